/**
 * The catalogue repositories over a fresh, migrated database of their own (no HTTP server), for the
 * repository tests.
 */
import * as Database from "@shum/infra/Database"
import { freshDatabase } from "@shum/infra/Testing"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { CatalogueRepositoriesLive } from "../src/Catalogue/CatalogueLayers.js"

export const CatalogueRepos = Layer.unwrapScoped(
  Effect.map(freshDatabase, (connection) =>
    CatalogueRepositoriesLive.pipe(Layer.provideMerge(Database.layer(connection, { poolSize: 3 })))
  )
).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)))

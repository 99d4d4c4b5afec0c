/**
 * The server process: configuration, logging, the database (configured, or the embedded default),
 * the services, then the HTTP server — built in that order, so nothing listens before it can answer.
 * SIGTERM/SIGINT interrupt the program: the server stops accepting, `/ready` turns 503, in-flight
 * requests finish (bounded by `SHUTDOWN_TIMEOUT_SECONDS`), then pools and the embedded database close.
 */
import { NodeRuntime } from "@effect/platform-node"
import { AppConfig } from "@shum/infra/Config"
import { DatabaseLive } from "@shum/infra/Database"
import { LoggingLive } from "@shum/infra/Logging"
import { Effect, Layer, Option } from "effect"
import { HttpLive } from "./Http.js"
import { NodeServerLive } from "./NodeServer.js"
import { SeedLive } from "./Seed.js"
import { RedisBackedLive, ServicesLive } from "./Services.js"

const SeedFromConfig = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    SeedLive({
      demo: Option.isNone(config.database)
        ? Option.some({ adminPasswordFile: `${config.embedded.dataDir}.admin` })
        : Option.none()
    })
  )
)

export const ServerLive = HttpLive.pipe(
  Layer.provide(NodeServerLive),
  Layer.provide(SeedFromConfig),
  Layer.provideMerge(ServicesLive),
  Layer.provide(RedisBackedLive),
  Layer.provide(DatabaseLive),
  Layer.provide(AppConfig.Default),
  Layer.provide(LoggingLive)
)

Layer.launch(ServerLive).pipe(NodeRuntime.runMain({ disablePrettyLogger: true }))

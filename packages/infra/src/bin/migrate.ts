/** `npm run migrate`: migrates the configured database (or the embedded default) and exits 0, else 1. */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer } from "effect"
import { fromSettings, settings } from "../Database.js"
import { LoggingLive } from "../Logging.js"

Layer.build(Layer.unwrapEffect(Effect.map(settings, fromSettings))).pipe(
  Effect.zipRight(Effect.logInfo("migrations done")),
  Effect.scoped,
  Effect.tapErrorCause((cause) => Effect.logError("migration failed", cause)),
  Effect.provide(LoggingLive),
  NodeRuntime.runMain({ disablePrettyLogger: true, disableErrorReporting: true })
)

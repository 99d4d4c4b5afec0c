/**
 * The server process: logging, configuration, telemetry, the database (configured, or the embedded
 * default), the services, then the HTTP server — built in that order, so nothing listens before it can
 * answer. SIGTERM/SIGINT interrupt the program and everything closes in reverse: `/ready` turns 503,
 * the server keeps serving for `SHUTDOWN_DRAIN_SECONDS`, stops accepting, in-flight requests finish
 * (bounded by `SHUTDOWN_TIMEOUT_SECONDS`), then pools and the embedded database close; exit code 0.
 * When the database the process owns is gone for good (the embedded default's PostgreSQL that cannot be
 * restarted, `DatabaseLost`), the same shutdown runs and the exit code is 1.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { AppConfig } from "@shum/infra/Config"
import { DatabaseLive, DatabaseLost } from "@shum/infra/Database"
import { BufferedStdoutLive, LoggingLive } from "@shum/infra/Logging"
import { TelemetryLive } from "@shum/infra/Telemetry"
import { Context, Effect, Layer, Option } from "effect"
import { HttpLive } from "./HttpLive.js"
import { EmbeddedHoldSweepLive } from "./Holds/HoldSweepInProcess.js"
import { EmbeddedImageWorkerLive } from "./Images/InProcessImageWorker.js"
import { QueryMetricsLive } from "./Metrics.js"
import { GracefulShutdownLive, NodeServerLive } from "./NodeServer.js"
import { SeedLive } from "./Seed.js"
import { RedisBackedLive, ServicesLive } from "./Services.js"
import { EmbeddedWebhookDispatcherLive } from "./Webhooks/WebhooksWorker.js"

const SeedFromConfig = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    SeedLive({
      demo: Option.isNone(config.database)
        ? Option.some({ adminPasswordFile: `${config.embedded.dataDir}.admin` })
        : Option.none()
    })
  )
)

// built after the HTTP app, so on shutdown it runs first (see NodeServer.ts)
export const ServerLive = GracefulShutdownLive.pipe(
  Layer.provide(HttpLive.pipe(Layer.provideMerge(NodeServerLive))),
  Layer.provide(SeedFromConfig),
  Layer.provide(EmbeddedHoldSweepLive), // no Redis: expired holds are swept in this process (it counts them)
  Layer.provide(EmbeddedWebhookDispatcherLive), // no Redis: webhook delivery too (its metrics in the server's)
  Layer.provideMerge(ServicesLive),
  Layer.provide(EmbeddedImageWorkerLive), // no Redis: the image worker runs in this process
  Layer.provide(RedisBackedLive),
  Layer.provideMerge(DatabaseLive.pipe(Layer.provide(QueryMetricsLive))),
  Layer.provide(AppConfig.Default),
  Layer.provide(TelemetryLive({ serviceName: "shum-booking-server", serviceVersion: "1.0.3" })),
  Layer.provide(LoggingLive),
  Layer.provide(BufferedStdoutLive) // log lines leave in one write per event-loop turn
)

// `npm start` forwards the terminal's Ctrl-C to this process, which the terminal signalled already: the
// repeat (within a second) must not cut the graceful shutdown short. A later one ends the process at once.
let firstSignal: number | undefined
const onRepeatedSignal = (signal: NodeJS.Signals) => {
  const now = Date.now()
  firstSignal ??= now
  if (now - firstSignal > 1000) {
    process.stderr.write(`${signal} again: exiting without waiting for the shutdown\n`)
    process.exit(130)
  }
}
process.on("SIGINT", onRepeatedSignal)
process.on("SIGTERM", onRepeatedSignal)

Layer.build(ServerLive).pipe(
  Effect.flatMap((context) => Context.get(context, DatabaseLost)),
  Effect.scoped,
  NodeRuntime.runMain({ disablePrettyLogger: true })
)

/**
 * The image worker process (`npm run worker`, D5): logging, telemetry, the configured PostgreSQL
 * (migrated, as the server does) and Redis, the job stream, then the worker and its probe server on
 * `HOST:WORKER_PORT` (default 8001: beside a server on 8000 with the same env file). It also delivers the
 * webhooks of the outbox (`WebhookDispatcher.ts`, docs/decisions.md D16).
 * Needs `DB_HOST`/`DATABASE_URL` and `REDIS_HOST`/`REDIS_URL` (the embedded default runs the same worker
 * inside the server instead). SIGTERM/SIGINT: the probe server closes, the worker stops reading, finishes
 * its jobs within `SHUTDOWN_TIMEOUT_SECONDS` (else releases them for redelivery), retires its heartbeat,
 * and the process exits 0.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { workerProcess } from "@shum/infra/Config"
import * as Database from "@shum/infra/Database"
import * as ImageJobsRedis from "@shum/infra/ImageJobsRedis"
import { LoggingLive } from "@shum/infra/Logging"
import { Redis } from "@shum/infra/Redis"
import { TelemetryLive } from "@shum/infra/Telemetry"
import { Duration, Effect, Layer, Option } from "effect"
import { hostname } from "node:os"
import { ConsumerStateLive } from "./ConsumerState.js"
import { ImageProcessor } from "./ImageProcessor.js"
import { ImageRows } from "./ImageRows.js"
import { ImageWorkerLive } from "./ImageWorker.js"
import { HOLD_SWEEP_DEFAULTS, HoldSweepLive } from "./HoldSweep.js"
import { ProbesLive } from "./Probes.js"
import { WebhookDispatcherLive } from "./WebhookDispatcher.js"
import { WebhookSenderLive } from "./WebhookSender.js"
import { WebhookMetrics } from "./WebhookMetrics.js"
import { WorkerMetrics, WorkerMetricsLive } from "./WorkerMetrics.js"

// the settings are read and checked in Config.ts (`workerProcess`: PostgreSQL and Redis are required)
const WorkerLive = Layer.unwrapEffect(
  Effect.gen(function* () {
    const config = yield* workerProcess
    if (Option.isNone(config.webhooks.keyMaterial)) {
      yield* Effect.logWarning(
        "neither WEBHOOK_SECRET_KEY nor JWT_SECRET_KEY is set: webhook secrets written by a server cannot be read, so their deliveries fail"
      )
    }
    const after = config.worker.requeueAfter
    // built in reverse: the database first, the probe server last (so it is the first to close)
    return ProbesLive({ host: config.http.host, port: config.worker.port }).pipe(
      Layer.provide(
        ImageWorkerLive({
          // the consumer name and the name in `/health/detailed`: the pod's (host) name unless WORKER_NAME
          name: config.worker.name === "" ? `worker@${hostname()}` : config.worker.name,
          concurrency: config.worker.concurrency,
          dir: config.images.dir,
          requeue: { after, every: Duration.min(Duration.seconds(60), Duration.times(after, 0.1)) }
        })
      ),
      // holds past expires_at expired (docs/data.md BR-13), beside the images
      Layer.provideMerge(
        Layer.unwrapEffect(
          Effect.map(WorkerMetrics, (metrics) =>
            HoldSweepLive({ ...HOLD_SWEEP_DEFAULTS, onExpired: metrics.holdsExpired })
          )
        )
      ),
      // webhooks from the outbox (D16), beside the images
      Layer.provideMerge(
        WebhookDispatcherLive(config.webhooks).pipe(
          Layer.provide(WebhookSenderLive(config.webhooks)),
          Layer.provide(
            Layer.effect(
              WebhookMetrics,
              Effect.map(WorkerMetrics, (metrics) => metrics.webhooks)
            )
          )
        )
      ),
      Layer.provide(ImageJobsRedis.layer(config.jobs)),
      Layer.provide(
        Layer.mergeAll(ImageRows.Default, ImageProcessor.layer(config.processor), WorkerMetricsLive, ConsumerStateLive)
      ),
      Layer.provide(Redis.layer(config.redis)),
      Layer.provide(Database.layer(config.database, { poolSize: config.databasePoolSize }))
    )
  })
)

Layer.launch(WorkerLive).pipe(
  Effect.provide(TelemetryLive({ serviceName: "shum-booking-worker", serviceVersion: "1.0.3" })),
  Effect.provide(LoggingLive),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)

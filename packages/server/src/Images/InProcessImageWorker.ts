/**
 * The image worker inside the server (the embedded default, D10): with no Redis configured, the same
 * worker code as `packages/worker` runs as a fiber of the server over the in-memory job stream, and the
 * `celery` section of `/health/detailed` reports it from its heartbeat (`worker@<hostname>`).
 */
import type { CeleryStatus } from "@shum/domain/SystemApi"
import { Messages } from "@shum/domain/Messages"
import { AppConfig } from "@shum/infra/Config"
import { ImageJobs } from "@shum/infra/ImageJobs"
import { ImageProcessor } from "@shum/worker/ImageProcessor"
import { ImageRows } from "@shum/worker/ImageRows"
import { ImageWorkerLive } from "@shum/worker/ImageWorker"
import { Effect, Layer, Option } from "effect"
import { hostname } from "node:os"
import { WorkerStatus } from "../System/WorkerStatus.js"

export const EMBEDDED_WORKER_NAME = `worker@${hostname()}`
const EMBEDDED_CONCURRENCY = 2

/** The workers whose heartbeats the job stream holds (the in-process one when it runs). */
export const WorkerStatusFromJobs = Layer.effect(
  WorkerStatus,
  Effect.map(ImageJobs, (jobs) =>
    WorkerStatus.of({
      status: jobs.workers.pipe(
        Effect.map((workers): typeof CeleryStatus.Type =>
          workers.length === 0
            ? { status: "no_workers", message: Messages.workersNotResponding }
            : { status: "ok", workers_count: workers.length, workers: [...workers] }
        ),
        Effect.catchAll((error) => Effect.succeed({ status: "error" as const, error: error.message }))
      )
    })
  )
)

/** The worker fiber with its own row access and sharp; queues again the images left pending by a restart. */
export const InProcessImageWorkerLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    ImageWorkerLive({
      name: EMBEDDED_WORKER_NAME,
      concurrency: EMBEDDED_CONCURRENCY,
      dir: config.images.dir,
      recover: true
    })
  )
).pipe(Layer.provide(Layer.mergeAll(ImageRows.Default, ImageProcessor.Default)))

/** `main.ts`: the in-process worker when no Redis is configured; with Redis, `packages/worker` does the work. */
export const EmbeddedImageWorkerLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => (Option.isSome(config.redis) ? Layer.empty : InProcessImageWorkerLive))
)

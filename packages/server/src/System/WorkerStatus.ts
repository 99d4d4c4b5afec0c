/**
 * The `celery` section of `/health/detailed`: which image workers are alive.
 * Until the image worker exists (images issue) nothing reports a heartbeat, so this honestly says
 * `no_workers` (E-80) and the health status is `degraded`.
 */
import type { CeleryStatus } from "@shum/domain/SystemApi"
import { Messages } from "@shum/domain/Messages"
import { Effect, Layer } from "effect"

export class WorkerStatus extends Effect.Tag("server/WorkerStatus")<
  WorkerStatus,
  { readonly status: Effect.Effect<typeof CeleryStatus.Type> }
>() {}

export const WorkerStatusNone = Layer.succeed(
  WorkerStatus,
  WorkerStatus.of({ status: Effect.succeed({ status: "no_workers", message: Messages.workersNotResponding }) })
)

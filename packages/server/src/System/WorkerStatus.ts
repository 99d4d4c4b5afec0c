/**
 * The `celery` section of `/health/detailed` (D6): which image workers are alive.
 *
 * Every worker beats into the sorted set `HEARTBEATS_KEY` (score: Redis's own clock in ms) at least
 * every `HEARTBEAT_INTERVAL` (see `@shum/infra/ImageJobs`); one silent for `HEARTBEAT_TTL` counts as gone.
 * The embedded default reports its in-process worker (`Images/InProcessImageWorker.ts`) instead; without any worker
 * the answer is `no_workers` (E-80) and the health status `degraded`.
 */
import type { CeleryStatus } from "@shum/domain/SystemApi"
import { Messages } from "@shum/domain/Messages"
import { HEARTBEAT_TTL, HEARTBEATS_KEY } from "@shum/infra/ImageJobs"
import { Redis } from "@shum/infra/Redis"
import { Cause, Duration, Effect, Layer, Schema } from "effect"

export class WorkerStatus extends Effect.Tag("server/WorkerStatus")<
  WorkerStatus,
  { readonly status: Effect.Effect<typeof CeleryStatus.Type> }
>() {}

// Names of the workers that beat within ARGV[1] ms; forgets those silent for a day.
const ALIVE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 86400000)
return redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), '+inf')`

const noWorkers = { status: "no_workers" as const, message: Messages.workersNotResponding }

export const WorkerStatusNone = Layer.succeed(WorkerStatus, WorkerStatus.of({ status: Effect.succeed(noWorkers) }))

export const WorkerStatusRedis = Layer.effect(
  WorkerStatus,
  Effect.map(Redis, (redis) =>
    WorkerStatus.of({
      status: redis
        .use((c) => c.eval(ALIVE_SCRIPT, 1, HEARTBEATS_KEY, Duration.toMillis(HEARTBEAT_TTL)), "eval worker_heartbeats")
        .pipe(
          Effect.flatMap(Schema.decodeUnknown(Schema.Array(Schema.String))),
          Effect.timeout("2 seconds"),
          Effect.map((workers): typeof CeleryStatus.Type =>
            workers.length === 0
              ? noWorkers
              : { status: "ok", workers_count: workers.length, workers: [...workers].sort() }
          ),
          Effect.catchAllCause((cause) =>
            Effect.succeed({ status: "error" as const, error: String(Cause.squash(cause)) })
          )
        )
    })
  )
)

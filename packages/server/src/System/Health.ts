/**
 * Dependency checks behind `/ready` and `/health/detailed` (docs/api.md §6, D6).
 * Each probe is bounded in time, so a hanging dependency makes the answer "down", never a hung probe.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { HealthDetailed } from "@shum/domain/SystemApi"
import { AppConfig } from "@shum/infra/Config"
import { Effect, Option } from "effect"
import { statfs } from "node:fs/promises"
import { Lifecycle } from "../Lifecycle.js"
import { RateLimiter } from "../RateLimit/RateLimiter.js"
import { WorkerStatus } from "./WorkerStatus.js"

const PROBE_TIMEOUT = "2 seconds"
const GiB = 1024 ** 3
const round2 = (n: number) => Math.round(n * 100) / 100
const MIN_FREE_PERCENT = 10

/** Redis, when the process uses one (absent in the embedded default). */
export class RedisProbe extends Effect.Tag("server/RedisProbe")<
  RedisProbe,
  { readonly ping: Effect.Effect<void, unknown> }
>() {}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

export class Health extends Effect.Service<Health>()("server/Health", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const config = yield* AppConfig
    const lifecycle = yield* Lifecycle
    const redisProbe = yield* Effect.serviceOption(RedisProbe)
    const workers = yield* WorkerStatus
    const limiter = yield* RateLimiter

    const database = sql`SELECT 1`.pipe(
      Effect.timeoutFail({ duration: PROBE_TIMEOUT, onTimeout: () => new Error("database did not answer in time") }),
      Effect.asVoid
    )

    /** `None` when ready, else the reason. */
    const readiness = Effect.gen(function* () {
      if (yield* lifecycle.isShuttingDown) return Option.some("shutting down")
      return yield* database.pipe(
        Effect.as(Option.none<string>()),
        Effect.catchAll((error) => Effect.succeed(Option.some(message(error)))),
        Effect.catchAllDefect((defect) => Effect.succeed(Option.some(message(defect))))
      )
    })

    /** No Redis configured: its services run in this process (the embedded default), which is healthy. */
    const redis = Option.match(redisProbe, {
      onNone: () => Effect.succeed("in-process" as const),
      onSome: (probe) =>
        probe.ping.pipe(
          Effect.timeout(PROBE_TIMEOUT),
          Effect.as("connected" as const),
          Effect.catchAllCause(() => Effect.succeed("disconnected" as const))
        )
    })

    const disk = Effect.tryPromise(() => statfs("/")).pipe(
      Effect.map((stats) => {
        const total = stats.blocks * stats.bsize
        const free = stats.bavail * stats.bsize
        const freePercent = total === 0 ? 0 : round2((free / total) * 100)
        return {
          status: freePercent >= MIN_FREE_PERCENT ? ("ok" as const) : ("warning" as const),
          total_gb: round2(total / GiB),
          used_gb: round2((total - stats.bfree * stats.bsize) / GiB),
          free_gb: round2(free / GiB),
          free_percent: freePercent,
          min_free_percent: MIN_FREE_PERCENT
        }
      }),
      Effect.catchAll((error) => Effect.succeed({ status: "error" as const, error: message(error.error) }))
    )

    /** D4: an enabled limiter whose store does not answer lets everything through — degraded. */
    const limiterUp = config.rateLimit.enabled
      ? limiter.available.pipe(
          Effect.timeout(PROBE_TIMEOUT),
          Effect.catchAllCause(() => Effect.succeed(false))
        )
      : Effect.succeed(true)

    const detailed = (timestamp: string) =>
      Effect.gen(function* () {
        const [databaseUp, redisState, celery, diskStatus, rateLimiterUp] = yield* Effect.all(
          [
            database.pipe(
              Effect.as(true),
              Effect.catchAllCause(() => Effect.succeed(false))
            ),
            redis,
            workers.status,
            disk,
            limiterUp
          ],
          { concurrency: "unbounded" }
        )
        let status: "ok" | "degraded" | "down" = "ok"
        if (redisState === "disconnected" || celery.status !== "ok" || diskStatus.status !== "ok" || !rateLimiterUp)
          status = "degraded"
        if (!databaseUp) status = "down"
        return new HealthDetailed({
          status,
          timestamp,
          version: "1.0.0",
          database: databaseUp ? "connected" : "disconnected",
          redis: redisState,
          celery,
          disk: diskStatus,
          rate_limiting: {
            enabled: config.rateLimit.enabled,
            api_limit_per_minute: config.rateLimit.perMinute,
            auth_limit_per_minute: config.rateLimit.authPerMinute
          }
        })
      })

    return { readiness, detailed } as const
  })
}) {}

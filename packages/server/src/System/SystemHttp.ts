import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ShumApi } from "@shum/domain/Api"
import { HealthStatus, LiveStatus, NotReady, ReadyStatus } from "@shum/domain/SystemApi"
import { Effect, Option } from "effect"
import { closedGroup } from "../Http/ClosedGroup.js"
import { Metrics } from "../Metrics.js"
import { now } from "./Clock.js"
import { Health } from "./Health.js"

/**
 * `GET /health`'s answer never changes: encoded once (as `HttpApi` encodes a `HealthStatus`: `200`,
 * `application/json`, `{"status":"ok"}`), not built, validated and encoded on every probe (issue 18).
 */
const healthy = Effect.succeed(HttpServerResponse.unsafeJson(HealthStatus.make({ status: "ok" })))

export const SystemLive = closedGroup(ShumApi, "system", (handlers) =>
  Effect.gen(function* () {
    const health = yield* Health
    const metrics = yield* Metrics
    return handlers
      .handle("health", () => healthy)
      .handle("live", () => Effect.map(now, (timestamp) => new LiveStatus({ alive: true, timestamp })))
      .handle("ready", () =>
        Effect.gen(function* () {
          const reason = yield* health.readiness
          const timestamp = yield* now
          if (Option.isSome(reason)) return yield* new NotReady({ timestamp, error: reason.value })
          return new ReadyStatus({ ready: true, timestamp })
        })
      )
      .handle("healthDetailed", () => Effect.flatMap(now, health.detailed))
      .handle("metrics", () => metrics.exposition)
  })
)

import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { ShumApi } from "@shum/domain/Api"
import { HealthStatus, LiveStatus, NotReady, ReadyStatus } from "@shum/domain/SystemApi"
import { Effect, Option } from "effect"
import { Metrics } from "../Metrics.js"
import { now } from "./Clock.js"
import { Health } from "./Health.js"

export const SystemLive = HttpApiBuilder.group(ShumApi, "system", (handlers) =>
  Effect.gen(function* () {
    const health = yield* Health
    const metrics = yield* Metrics
    return handlers
      .handle("health", () => Effect.succeed(new HealthStatus({ status: "ok" })))
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

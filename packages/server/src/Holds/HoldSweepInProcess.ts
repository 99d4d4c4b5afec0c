/**
 * The holds' sweep inside the server (the embedded default, docs/decisions.md D10; docs/data.md BR-13): with
 * no Redis configured there is no worker process, so the server runs the worker's sweep
 * (`@shum/worker/HoldSweep`) as a fiber over the same PostgreSQL, counting into its own
 * `holds_expired_total`. With Redis, `packages/worker` sweeps.
 */
import { AppConfig } from "@shum/infra/Config"
import { HOLD_SWEEP_DEFAULTS, HoldSweepLive } from "@shum/worker/HoldSweep"
import { Effect, Layer, Option } from "effect"
import { Metrics } from "../Metrics.js"

export const InProcessHoldSweepLive = Layer.unwrapEffect(
  Effect.map(Metrics, ({ counters }) =>
    HoldSweepLive({
      ...HOLD_SWEEP_DEFAULTS,
      onExpired: (count) => Effect.sync(() => counters.holdsExpired.inc(count))
    })
  )
)

/** `main.ts`: the in-process sweep when no Redis is configured. */
export const EmbeddedHoldSweepLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => (Option.isSome(config.redis) ? Layer.empty : InProcessHoldSweepLive))
)

/**
 * The worker's Prometheus metrics, in a registry of its own, served at `/metrics` by `Probes.ts`:
 * `image_jobs_total{outcome}` (`done`; `failed`: an attempt failed; `dead_lettered`), `image_job_duration_seconds` (handled
 * jobs, whatever the outcome), `image_jobs_group_recreated_total` (the stream had lost its consumer group —
 * Redis restarted empty, a failover, the stream deleted — and this worker created it again),
 * `holds_expired_total` (holds this worker's sweep expired, `HoldSweep.ts`), the webhook dispatcher's
 * `webhook_*` (`WebhookMetrics.ts`) and Node's default process collectors.
 */
import { Context, Effect, Layer } from "effect"
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client"
import { type WebhookMetrics, webhookMetricsIn } from "./WebhookMetrics.js"

export type JobOutcome = "done" | "failed" | "dead_lettered"

export class WorkerMetrics extends Context.Tag("worker/WorkerMetrics")<
  WorkerMetrics,
  {
    readonly registry: Registry
    readonly record: (outcome: JobOutcome, seconds?: number) => Effect.Effect<void>
    readonly groupRecreated: Effect.Effect<void>
    readonly holdsExpired: (count: number) => Effect.Effect<void>
    /** The webhook dispatcher's metrics (`WebhookMetrics.ts`), in this registry. */
    readonly webhooks: typeof WebhookMetrics.Service
  }
>() {}

export const WorkerMetricsLive = Layer.sync(WorkerMetrics, () => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const jobs = new Counter({
    name: "image_jobs_total",
    help: "Image jobs handled, by outcome",
    labelNames: ["outcome"] as const,
    registers: [registry]
  })
  const duration = new Histogram({
    name: "image_job_duration_seconds",
    help: "Time to handle one image job",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry]
  })
  const recreated = new Counter({
    name: "image_jobs_group_recreated_total",
    help: "Times the image job stream had lost its consumer group (Redis lost its data) and this worker created it again",
    registers: [registry]
  })
  const expired = new Counter({
    name: "holds_expired_total",
    help: "Holds this process found past expires_at (the worker: its sweep)",
    registers: [registry]
  })
  return WorkerMetrics.of({
    registry,
    webhooks: webhookMetricsIn(registry),
    holdsExpired: (count) => Effect.sync(() => expired.inc(count)),
    groupRecreated: Effect.sync(() => recreated.inc()),
    record: (outcome, seconds) =>
      Effect.sync(() => {
        jobs.inc({ outcome })
        if (seconds !== undefined) duration.observe(seconds)
      })
  })
})

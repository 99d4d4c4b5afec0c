/**
 * Webhook delivery metrics (docs/decisions.md D16), registered in the registry of the process that
 * delivers — the worker's (`WorkerMetrics.ts`) or, in the embedded default, the server's:
 * `webhook_events_total` (outbox events fanned out to subscriptions), `webhook_fanout_failures_total` (fan-out
 * rounds that failed: the events wait, and the lag grows), `webhook_deliveries_total{outcome}`
 * (each attempt: `delivered`, `failed` — to be retried — or `dead`), `webhook_delivery_duration_seconds`
 * (each attempt's request) and `webhook_outbox_lag_seconds` (the age of the oldest event not yet fanned out or
 * still pending for an enabled subscription; 0 when none; measured on its own schedule, whether or not the
 * fan-out works), and `webhook_retention_deleted_total{kind}` (ended
 * deliveries and events deleted by the retention, `WebhookRetention.ts`).
 */
import { Context, Effect } from "effect"
import { Counter, Gauge, Histogram, type Registry } from "prom-client"

export type DeliveryOutcome = "delivered" | "failed" | "dead"

export class WebhookMetrics extends Context.Tag("worker/WebhookMetrics")<
  WebhookMetrics,
  {
    readonly eventsFannedOut: (count: number) => Effect.Effect<void>
    readonly fanOutFailed: Effect.Effect<void>
    readonly attempt: (outcome: DeliveryOutcome, seconds: number) => Effect.Effect<void>
    readonly lag: (seconds: number) => Effect.Effect<void>
    readonly pruned: (deleted: { readonly deliveries: number; readonly events: number }) => Effect.Effect<void>
  }
>() {}

export const webhookMetricsIn = (registry: Registry): typeof WebhookMetrics.Service => {
  const registers = [registry]
  const events = new Counter({
    name: "webhook_events_total",
    help: "Outbox events fanned out to the webhook subscriptions",
    registers
  })
  const fanOutFailures = new Counter({
    name: "webhook_fanout_failures_total",
    help: "Webhook fan-out rounds that failed (the outbox's events wait for the next round)",
    registers
  })
  const deliveries = new Counter({
    name: "webhook_deliveries_total",
    help: "Webhook delivery attempts, by outcome (delivered, failed: retried later, dead: no retry left)",
    labelNames: ["outcome"] as const,
    registers
  })
  const duration = new Histogram({
    name: "webhook_delivery_duration_seconds",
    help: "Time of one webhook request, from connecting to the answer (or the failure)",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers
  })
  const lag = new Gauge({
    name: "webhook_outbox_lag_seconds",
    help: "Age of the oldest outbox event not yet delivered to an enabled subscription (0: none waiting)",
    registers
  })
  const retained = new Counter({
    name: "webhook_retention_deleted_total",
    help: "Webhook history deleted past WEBHOOK_RETENTION_DAYS, by kind (deliveries with their attempts, events)",
    labelNames: ["kind"] as const,
    registers
  })
  for (const outcome of ["delivered", "failed", "dead"] as const) deliveries.inc({ outcome }, 0)
  for (const kind of ["deliveries", "events"] as const) retained.inc({ kind }, 0)
  return WebhookMetrics.of({
    eventsFannedOut: (count) => Effect.sync(() => events.inc(count)),
    fanOutFailed: Effect.sync(() => fanOutFailures.inc()),
    attempt: (outcome, seconds) =>
      Effect.sync(() => {
        deliveries.inc({ outcome })
        duration.observe(seconds)
      }),
    lag: (seconds) => Effect.sync(() => lag.set(seconds)),
    pruned: ({ deliveries, events }) =>
      Effect.sync(() => {
        retained.inc({ kind: "deliveries" }, deliveries)
        retained.inc({ kind: "events" }, events)
      })
  })
}

/**
 * Webhook delivery inside the server (the embedded default, docs/decisions.md D10 and D16): with no Redis
 * configured there is no worker process, so the server runs the worker's dispatcher as a fiber over the
 * same PostgreSQL. With Redis, `packages/worker` delivers.
 */
import { AppConfig } from "@shum/infra/Config"
import { WebhookDispatcherLive } from "@shum/worker/WebhookDispatcher"
import { WebhookMetrics, webhookMetricsIn } from "@shum/worker/WebhookMetrics"
import { WebhookSenderLive } from "@shum/worker/WebhookSender"
import { Metrics } from "../Metrics.js"
import { Effect, Layer, Option } from "effect"

export const InProcessWebhookDispatcherLive = Layer.unwrapEffect(
  Effect.map(AppConfig, ({ webhooks }) =>
    WebhookDispatcherLive(webhooks).pipe(
      Layer.provide(WebhookSenderLive(webhooks)),
      // its metrics in the server's registry, at the server's /metrics
      Layer.provide(
        Layer.effect(
          WebhookMetrics,
          Effect.map(Metrics, (metrics) => webhookMetricsIn(metrics.registry))
        )
      )
    )
  )
)

/** `main.ts`: the in-process dispatcher when no Redis is configured. */
export const EmbeddedWebhookDispatcherLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => (Option.isSome(config.redis) ? Layer.empty : InProcessWebhookDispatcherLive))
)

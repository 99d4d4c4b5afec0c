/**
 * Webhook subscriptions (docs/api.md §14; docs/decisions.md D16): admin only. Events come from the
 * transactional outbox and are delivered by the worker, signed per the Standard Webhooks specification.
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { IntegerString, Message } from "./Common.js"
import { NotFound, RateLimited, ValidationError } from "./Errors.js"
import { locatesCreated } from "./OpenApiHeaders.js"
import { WebhookDeliveryPath, WebhookIdPath } from "./Params.js"
import { AdminAuthentication } from "./Security.js"
import {
  DeliveryStatus,
  Webhook,
  WebhookCreate,
  WebhookCreated,
  WebhookDelivery,
  WebhookDeliveryPage,
  WebhookPatch,
  WebhookSecret
} from "./Webhooks.js"

const ADMIN_ONLY = "Admin only."
const URL_RULES =
  "The URL must be `https`, or `http` to a host listed in `WEBHOOK_ALLOWED_HOSTS`; an IP address that is " +
  "loopback, private, link-local or a cloud metadata address is refused (422 at `url`) unless listed there. " +
  "Names are resolved at each delivery and the address connected to is checked the same way."

const intParam = (minimum: number, maximum: number, description: string) =>
  Schema.optional(
    Schema.compose(IntegerString, Schema.Number.pipe(Schema.between(minimum, maximum), Schema.int())).annotations({
      jsonSchema: { type: "integer", minimum, maximum, description }
    })
  )

export const RotateSecretQuery = Schema.Struct({
  grace_period_seconds: intParam(
    0,
    604_800,
    "How long the previous secret keeps signing too, 0..604800 seconds (default 86400)"
  )
})

export const DeliveriesQuery = Schema.Struct({
  status: Schema.optional(DeliveryStatus),
  cursor: Schema.optional(
    Schema.String.pipe(Schema.pattern(/^[1-9][0-9]{0,15}$/)).annotations({
      description: "`next_cursor` of the previous page"
    })
  ),
  limit: intParam(1, 100, "Deliveries per page, 1..100 (default 20)")
})

export class WebhooksApi extends HttpApiGroup.make("webhooks")
  .add(
    HttpApiEndpoint.post("create", "/webhooks")
      .setPayload(WebhookCreate)
      .addSuccess(WebhookCreated, { status: 201 })
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "createWebhook")
      .annotate(OpenApi.Transform, locatesCreated("/webhooks/{webhook_id}"))
      .annotate(OpenApi.Summary, "Subscribe to events")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Answers 201 with the subscription and its signing \`secret\`, shown this once, and ` +
          "`Location`.\n\n" +
          "`events` takes event types (`booking.created`), families (`booking.*`) or `*`; `hotel_ids` limits " +
          `the subscription to events of those hotels. ${URL_RULES}`
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/webhooks")
      .addSuccess(Schema.Array(Webhook))
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "listWebhooks")
      .annotate(OpenApi.Summary, "List subscriptions")
      .annotate(OpenApi.Description, `${ADMIN_ONLY} Every subscription, by id; secrets are never shown again.`)
  )
  .add(
    HttpApiEndpoint.get("get", "/webhooks/:webhook_id")
      .setPath(WebhookIdPath)
      .addSuccess(Webhook)
      .addError(NotFound)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "getWebhook")
      .annotate(OpenApi.Summary, "Get a subscription")
      .annotate(OpenApi.Description, `${ADMIN_ONLY} Unknown id → 404 \`Вебхук не найден\`.`)
  )
  .add(
    HttpApiEndpoint.patch("patch", "/webhooks/:webhook_id")
      .setPath(WebhookIdPath)
      .setPayload(WebhookPatch)
      .addSuccess(Webhook)
      .addError(NotFound)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "patchWebhook")
      .annotate(OpenApi.Summary, "Change a subscription")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Writes the fields present (\`null\` clears \`hotel_ids\` or \`description\`). ` +
          "`enabled: true` turns a disabled subscription on again; deliveries still pending resume. " +
          `${URL_RULES}`
      )
  )
  .add(
    HttpApiEndpoint.del("delete", "/webhooks/:webhook_id")
      .setPath(WebhookIdPath)
      .addSuccess(Message)
      .addError(NotFound)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "deleteWebhook")
      .annotate(OpenApi.Summary, "Delete a subscription")
      .annotate(OpenApi.Description, `${ADMIN_ONLY} Its pending deliveries and their history go with it.`)
  )
  .add(
    HttpApiEndpoint.post("rotateSecret", "/webhooks/:webhook_id/rotate-secret")
      .setPath(WebhookIdPath)
      .setUrlParams(RotateSecretQuery)
      .addSuccess(WebhookSecret)
      .addError(NotFound)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "rotateWebhookSecret")
      .annotate(OpenApi.Summary, "Rotate the signing secret")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} A new secret, shown this once. For \`grace_period_seconds\` (default one day) every ` +
          "message carries two signatures in `webhook-signature`, one per secret, so receivers can switch over."
      )
  )
  .add(
    HttpApiEndpoint.post("ping", "/webhooks/:webhook_id/ping")
      .setPath(WebhookIdPath)
      .addSuccess(WebhookDelivery, { status: 202 })
      .addError(NotFound)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "pingWebhook")
      .annotate(OpenApi.Summary, "Send a test event")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Queues a \`webhook.ping\` event for this subscription only (also when it is disabled) and ` +
          "answers 202 with its delivery; follow it in the deliveries list."
      )
  )
  .add(
    HttpApiEndpoint.get("deliveries", "/webhooks/:webhook_id/deliveries")
      .setPath(WebhookIdPath)
      .setUrlParams(DeliveriesQuery)
      .addSuccess(WebhookDeliveryPage)
      .addError(NotFound)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "listWebhookDeliveries")
      .annotate(OpenApi.Summary, "List deliveries")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} The subscription's deliveries, newest first, each with its attempts (status code, ` +
          "duration, error); `status` filters, `cursor` pages."
      )
  )
  .add(
    HttpApiEndpoint.post("redeliver", "/webhooks/:webhook_id/deliveries/:delivery_id/redeliver")
      .setPath(WebhookDeliveryPath)
      .addSuccess(WebhookDelivery, { status: 202 })
      .addError(NotFound)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "redeliverWebhook")
      .annotate(OpenApi.Summary, "Send an event again")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Queues the delivery's event again for this subscription, as a new delivery (202); ` +
          "the same `webhook-id`, so an idempotent receiver processes it once. Unknown delivery → 404 " +
          "`Доставка вебхука не найдена`."
      )
  )
  .addError(RateLimited)
  .annotate(OpenApi.Title, "Вебхуки")
  .annotate(
    OpenApi.Description,
    "Signed event notifications (Standard Webhooks) from the transactional outbox: subscriptions, secret " +
      "rotation, deliveries. Admin only."
  ) {}

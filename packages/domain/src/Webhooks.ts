/**
 * Webhook subscriptions, deliveries and events (docs/api.md §14; docs/decisions.md D16).
 */
import { Schema } from "effect"
import { Int32, maxChars, minChars, modelDoc, Text, Timestamp } from "./Common.js"

/** Every event the outbox records; `webhook.ping` goes only to the subscription pinged. */
export const EVENT_TYPES = [
  "booking.created",
  "booking.cancelled",
  "booking.dates_changed",
  "hold.created",
  "hold.confirmed",
  "hold.expired",
  "hold.released",
  "image.processed",
  "image.failed",
  "hotel.created",
  "hotel.updated",
  "hotel.deleted",
  "room.created",
  "room.updated",
  "room.deleted",
  "user.role_changed",
  "webhook.ping"
] as const
export const EventType = Schema.Literal(...EVENT_TYPES).annotations({ identifier: "WebhookEventType" })
export type EventType = typeof EventType.Type

/** Whether a subscription's pattern (`booking.created`, `booking.*`, `*`) takes this event type. */
export const patternMatches = (pattern: string, type: string): boolean =>
  pattern === "*" || pattern === type || (pattern.endsWith(".*") && type.startsWith(pattern.slice(0, -1)))

export const EventPattern = Text.pipe(
  Schema.pattern(/^(\*|[a-z_]+\.\*|[a-z_]+\.[a-z_]+)$/),
  Schema.filter((pattern) => EVENT_TYPES.some((type) => patternMatches(pattern, type)), {
    message: () => `Value error, no event type matches; known types: ${EVENT_TYPES.join(", ")}`
  })
).annotations({
  description: "An event type (`booking.created`), a family (`booking.*`) or every event (`*`)",
  examples: ["booking.*"]
})

const Url = Text.pipe(minChars(1), maxChars(2048)).annotations({
  description:
    "Where events are POSTed: `https`, or `http` to a host in `WEBHOOK_ALLOWED_HOSTS`; never a loopback, " +
    "private, link-local or metadata address unless its host is listed there",
  examples: ["https://hooks.example.com/shum"]
})
const Events = Schema.Array(EventPattern).pipe(Schema.minItems(1), Schema.maxItems(32))
const HotelIds = Schema.Array(Int32).pipe(Schema.maxItems(100)).annotations({
  description: "Only events of these hotels (events of no hotel, such as `user.role_changed`, are not sent)"
})
const Description = Text.pipe(maxChars(500))

export const WebhookCreate = Schema.Struct({
  url: Url,
  events: Events,
  hotel_ids: Schema.optional(Schema.NullOr(HotelIds)),
  description: Schema.optional(Schema.NullOr(Description))
}).annotations({
  identifier: "WebhookCreate",
  examples: [{ url: "https://hooks.example.com/shum", events: ["booking.*"], hotel_ids: [1] }]
})
export type WebhookCreate = typeof WebhookCreate.Type

export const WebhookPatch = Schema.Struct({
  url: Schema.optional(Url),
  events: Schema.optional(Events),
  hotel_ids: Schema.optional(Schema.NullOr(HotelIds)),
  description: Schema.optional(Schema.NullOr(Description)),
  enabled: Schema.optional(Schema.Boolean)
}).annotations({ identifier: "WebhookPatch", examples: [{ enabled: true }] })
export type WebhookPatch = typeof WebhookPatch.Type

const webhookFields = {
  id: Schema.Int,
  url: Schema.String,
  description: Schema.NullOr(Schema.String),
  events: Schema.Array(Schema.String),
  hotel_ids: Schema.NullOr(Schema.Array(Schema.Int)),
  enabled: Schema.Boolean,
  disabled_reason: Schema.NullOr(Schema.String),
  previous_secret_expires_at: Schema.NullOr(Timestamp),
  created_at: Timestamp,
  updated_at: Timestamp
}
const webhookExample = {
  id: 1,
  url: "https://hooks.example.com/shum",
  description: null,
  events: ["booking.*"],
  hotel_ids: [1],
  enabled: true,
  disabled_reason: null,
  previous_secret_expires_at: null,
  created_at: "2026-11-20T10:15:30.123Z",
  updated_at: "2026-11-20T10:15:30.123Z"
}
export class Webhook extends Schema.Class<Webhook>("Webhook")(
  webhookFields,
  modelDoc(
    webhookFields,
    "A webhook subscription. `enabled` turns false when its deliveries failed for a whole retry schedule " +
      "(`disabled_reason` says so); PATCH `enabled: true` turns it on again.",
    webhookExample
  )
) {}

const SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
const createdFields = { ...webhookFields, secret: Schema.String }
export class WebhookCreated extends Schema.Class<WebhookCreated>("WebhookCreated")(
  createdFields,
  modelDoc(
    createdFields,
    "The new subscription and its signing secret — shown this once; keep it (rotate-secret makes a new one).",
    { ...webhookExample, secret: SECRET_EXAMPLE }
  )
) {}

const secretFields = { secret: Schema.String, previous_secret_expires_at: Schema.NullOr(Timestamp) }
export class WebhookSecret extends Schema.Class<WebhookSecret>("WebhookSecret")(
  secretFields,
  modelDoc(
    secretFields,
    "The new signing secret, shown this once. Until `previous_secret_expires_at` messages carry a signature " +
      "by each secret, so a receiver holding either accepts them.",
    { secret: SECRET_EXAMPLE, previous_secret_expires_at: "2026-11-21T10:15:30.123Z" }
  )
) {}

export const DeliveryStatus = Schema.Literal("pending", "delivered", "dead").annotations({
  identifier: "WebhookDeliveryStatus"
})
export type DeliveryStatus = typeof DeliveryStatus.Type

const attemptFields = {
  attempted_at: Timestamp,
  response_code: Schema.NullOr(Schema.Int),
  duration_ms: Schema.Int,
  error: Schema.NullOr(Schema.String)
}
export class WebhookAttempt extends Schema.Class<WebhookAttempt>("WebhookAttempt")(
  attemptFields,
  modelDoc(attemptFields, "One try: the receiver's status code (none when it was not reached) and the error.", {
    attempted_at: "2026-11-20T10:15:31.004Z",
    response_code: 503,
    duration_ms: 41,
    error: "status 503"
  })
) {}

const deliveryFields = {
  id: Schema.Int,
  event_id: Schema.String,
  event_type: Schema.String,
  status: DeliveryStatus,
  attempts: Schema.Int,
  next_attempt_at: Schema.NullOr(Timestamp),
  created_at: Timestamp,
  finished_at: Schema.NullOr(Timestamp),
  last_response_code: Schema.NullOr(Schema.Int),
  last_duration_ms: Schema.NullOr(Schema.Int),
  last_error: Schema.NullOr(Schema.String),
  attempts_log: Schema.Array(WebhookAttempt)
}
export class WebhookDelivery extends Schema.Class<WebhookDelivery>("WebhookDelivery")(
  deliveryFields,
  modelDoc(
    deliveryFields,
    "One event for one subscription: `pending` until the receiver answers 2xx (`delivered`) or the retries " +
      "run out (`dead`). `attempts_log` holds the last 20 tries, newest first.",
    {
      id: 7,
      event_id: "0b6f5cf6-7f0e-4a8e-9d7a-3c1f3f1f2a10",
      event_type: "booking.created",
      status: "delivered",
      attempts: 2,
      next_attempt_at: null,
      created_at: "2026-11-20T10:15:30.200Z",
      finished_at: "2026-11-20T10:15:36.050Z",
      last_response_code: 200,
      last_duration_ms: 38,
      last_error: null,
      attempts_log: []
    }
  )
) {}

const pageFields = { items: Schema.Array(WebhookDelivery), next_cursor: Schema.NullOr(Schema.String) }
export class WebhookDeliveryPage extends Schema.Class<WebhookDeliveryPage>("WebhookDeliveryPage")(
  pageFields,
  modelDoc(pageFields, "Newest first; pass `next_cursor` as `cursor` for the next page (`null`: no more).", {
    items: [],
    next_cursor: null
  })
) {}

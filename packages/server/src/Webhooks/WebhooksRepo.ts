/**
 * Webhook subscriptions and their deliveries (docs/decisions.md D16). The signing secret is stored
 * encrypted and never leaves this module but through `create` and `rotate`, which the service encrypts for.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { DeliveryStatus } from "@shum/domain/Webhooks"
import { Effect, Option } from "effect"

/** A `timestamptz` column as ISO-8601 in UTC with milliseconds and `Z`. */
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

const SUBSCRIPTION_COLUMNS = `id, url, description, events, hotel_ids, enabled, disabled_reason,
  CASE WHEN previous_secret_expires_at > now() THEN ${iso("previous_secret_expires_at")} END
    AS previous_secret_expires_at,
  ${iso("created_at")} AS created_at, ${iso("updated_at")} AS updated_at`

export interface SubscriptionRow {
  readonly id: number
  readonly url: string
  readonly description: string | null
  readonly events: ReadonlyArray<string>
  readonly hotel_ids: ReadonlyArray<number> | null
  readonly enabled: boolean
  readonly disabled_reason: string | null
  readonly previous_secret_expires_at: string | null
  readonly created_at: string
  readonly updated_at: string
}

export interface DeliveryRow {
  readonly id: number
  readonly event_id: string
  readonly event_type: string
  readonly status: DeliveryStatus
  readonly attempts: number
  readonly next_attempt_at: string | null
  readonly created_at: string
  readonly finished_at: string | null
  readonly last_response_code: number | null
  readonly last_duration_ms: number | null
  readonly last_error: string | null
  readonly attempts_log: ReadonlyArray<{
    readonly attempted_at: string
    readonly response_code: number | null
    readonly duration_ms: number
    readonly error: string | null
  }>
}

const DELIVERY_COLUMNS = `d.id::float8 AS id, e.event_id::text AS event_id, e.type AS event_type, d.status, d.attempts,
  CASE WHEN d.status = 'pending' THEN ${iso("d.next_attempt_at")} END AS next_attempt_at,
  ${iso("d.created_at")} AS created_at, ${iso("d.finished_at")} AS finished_at,
  d.last_response_code, d.last_duration_ms, d.last_error,
  COALESCE((SELECT json_agg(json_build_object('attempted_at', ${iso("a.attempted_at")},
      'response_code', a.response_code, 'duration_ms', a.duration_ms, 'error', a.error) ORDER BY a.id DESC)
    FROM (SELECT * FROM webhook_attempts WHERE delivery_id = d.id ORDER BY id DESC LIMIT 20) a), '[]'::json)
    AS attempts_log`

/** Columns a write may set; `undefined` = leave as is. */
export interface SubscriptionFields {
  readonly url?: string | undefined
  readonly events?: ReadonlyArray<string> | undefined
  readonly hotel_ids?: ReadonlyArray<number> | null | undefined
  readonly description?: string | null | undefined
  readonly enabled?: boolean | undefined
}

const intArray = (values: ReadonlyArray<number> | null | undefined) =>
  values === null || values === undefined ? null : `{${values.map((n) => Math.trunc(n)).join(",")}}`
const textArray = (values: ReadonlyArray<string>) =>
  `{${values.map((value) => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(",")}}`

export class WebhooksRepo extends Effect.Service<WebhooksRepo>()("server/WebhooksRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const columns = sql.unsafe(SUBSCRIPTION_COLUMNS)
    const deliveryColumns = sql.unsafe(DELIVERY_COLUMNS)
    const first = <A>(rows: ReadonlyArray<A>) => Option.fromNullable(rows[0])

    const create = (
      fields: SubscriptionFields & { readonly url: string; readonly events: ReadonlyArray<string> },
      secret: string
    ) =>
      sql<SubscriptionRow>`
        INSERT INTO webhook_subscriptions (url, events, hotel_ids, description, secret)
        VALUES (${fields.url}, ${textArray(fields.events)}::text[], ${intArray(fields.hotel_ids)}::int[],
                ${fields.description ?? null}, ${secret})
        RETURNING ${columns}`.pipe(Effect.map((rows) => rows[0]!))

    const list = sql<SubscriptionRow>`SELECT ${columns} FROM webhook_subscriptions ORDER BY id`

    const find = (id: number) =>
      sql<SubscriptionRow>`SELECT ${columns} FROM webhook_subscriptions WHERE id = ${id}`.pipe(Effect.map(first))

    /** Turning a subscription on clears why it was turned off. */
    const update = (id: number, fields: SubscriptionFields) =>
      sql<SubscriptionRow>`
        UPDATE webhook_subscriptions SET
          url = COALESCE(${fields.url ?? null}, url),
          events = COALESCE(${fields.events === undefined ? null : textArray(fields.events)}::text[], events),
          hotel_ids = CASE WHEN ${fields.hotel_ids !== undefined} THEN ${intArray(fields.hotel_ids)}::int[]
                      ELSE hotel_ids END,
          description = CASE WHEN ${fields.description !== undefined} THEN ${fields.description ?? null}
                        ELSE description END,
          enabled = COALESCE(${fields.enabled ?? null}::boolean, enabled),
          disabled_reason = CASE WHEN ${fields.enabled === true} THEN NULL ELSE disabled_reason END,
          updated_at = now()
        WHERE id = ${id} RETURNING ${columns}`.pipe(Effect.map(first))

    const remove = (id: number) =>
      sql`DELETE FROM webhook_subscriptions WHERE id = ${id} RETURNING id`.pipe(Effect.map((rows) => rows.length > 0))

    /** The current secret becomes the previous one, valid `graceSeconds` more. */
    const rotate = (id: number, secret: string, graceSeconds: number) =>
      sql<{ previous_secret_expires_at: string | null }>`
        UPDATE webhook_subscriptions SET previous_secret = secret, secret = ${secret},
          previous_secret_expires_at = now() + make_interval(secs => ${graceSeconds}), updated_at = now()
        WHERE id = ${id}
        RETURNING CASE WHEN ${graceSeconds} > 0 THEN ${sql.unsafe(iso("previous_secret_expires_at"))} END
          AS previous_secret_expires_at`.pipe(Effect.map(first))

    const deliveries = (
      subscriptionId: number,
      query: {
        readonly status?: DeliveryStatus | undefined
        readonly before?: number | undefined
        readonly limit: number
      }
    ) =>
      sql<DeliveryRow>`
        SELECT ${deliveryColumns} FROM webhook_deliveries d JOIN outbox_events e ON e.id = d.event_id
        WHERE d.subscription_id = ${subscriptionId}
          ${query.status === undefined ? sql`` : sql`AND d.status = ${query.status}`}
          ${query.before === undefined ? sql`` : sql`AND d.id < ${query.before}`}
        ORDER BY d.id DESC LIMIT ${query.limit}`

    const delivery = (subscriptionId: number, deliveryId: number) =>
      sql<DeliveryRow>`
        SELECT ${deliveryColumns} FROM webhook_deliveries d JOIN outbox_events e ON e.id = d.event_id
        WHERE d.subscription_id = ${subscriptionId} AND d.id = ${deliveryId}`.pipe(Effect.map(first))

    /** A new pending delivery of the same event to the same subscription (the same `webhook-id`). */
    const redeliver = (subscriptionId: number, deliveryId: number) =>
      sql<{ id: number }>`
        INSERT INTO webhook_deliveries (subscription_id, event_id, entity)
        SELECT subscription_id, event_id, entity FROM webhook_deliveries
        WHERE subscription_id = ${subscriptionId} AND id = ${deliveryId}
        RETURNING id::float8 AS id`.pipe(
        Effect.flatMap((rows) =>
          rows[0] === undefined ? Effect.succeed(Option.none()) : delivery(subscriptionId, rows[0].id)
        )
      )

    /** A `webhook.ping` event for this subscription alone, with its delivery (no fan-out needed). */
    const ping = (subscriptionId: number, eventId: string) =>
      sql<{ id: number }>`
        WITH event AS (
          INSERT INTO outbox_events (event_id, type, entity, subscription_id, data, fanned_out_at)
          VALUES (${eventId}, 'webhook.ping', ${`webhook:${subscriptionId}`}, ${subscriptionId},
                  ${JSON.stringify({ id: subscriptionId })}::jsonb, now())
          RETURNING id, entity
        )
        INSERT INTO webhook_deliveries (subscription_id, event_id, entity)
        SELECT ${subscriptionId}, id, entity FROM event
        RETURNING id::float8 AS id`.pipe(
        Effect.flatMap((rows) => delivery(subscriptionId, rows[0]!.id)),
        Effect.map(Option.getOrThrow)
      )

    return {
      create: (...args: Parameters<typeof create>) => create(...args).pipe(Effect.orDie),
      list: list.pipe(Effect.orDie),
      find: (id: number) => find(id).pipe(Effect.orDie),
      update: (id: number, fields: SubscriptionFields) => update(id, fields).pipe(Effect.orDie),
      remove: (id: number) => remove(id).pipe(Effect.orDie),
      rotate: (id: number, secret: string, graceSeconds: number) => rotate(id, secret, graceSeconds).pipe(Effect.orDie),
      deliveries: (...args: Parameters<typeof deliveries>) => deliveries(...args).pipe(Effect.orDie),
      redeliver: (subscriptionId: number, deliveryId: number) =>
        redeliver(subscriptionId, deliveryId).pipe(Effect.orDie),
      ping: (subscriptionId: number, eventId: string) =>
        ping(subscriptionId, eventId).pipe(sql.withTransaction, Effect.orDie)
    } as const
  })
}) {}

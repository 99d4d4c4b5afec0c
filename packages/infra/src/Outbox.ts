/**
 * The transactional outbox (docs/decisions.md D16): `record` writes one event row with the caller's
 * `SqlClient`, so inside `sql.withTransaction` it is part of the caller's transaction — the event commits
 * with its change or not at all. The webhook dispatcher (`packages/worker/src/WebhookDispatcher.ts`) reads
 * the rows afterwards.
 *
 * Order: an event is recorded after the write that changes its entity, so it is numbered while that row is
 * locked; the next change of the same entity waits for the lock and gets a higher number. Deliveries keep
 * that order per subscription and entity.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"

/** The payload's `data`: the entity's `id`, its `hotel_id` when it belongs to one, and the changed fields. */
export interface EventData {
  readonly id: number
  readonly hotel_id?: number | null | undefined
  readonly [field: string]: unknown
}

/** `booking.created` → `booking:12`: the unit deliveries are ordered by. */
export const entityOf = (type: string, data: EventData): string => `${type.split(".")[0] ?? type}:${data.id}`

/**
 * The same event written by a statement that makes the change itself (a data-modifying `WITH` part of it),
 * for the writes that are one statement: the event is then part of that statement, and of its transaction,
 * with no extra round trip. Each argument is SQL text over `from` (trusted, never user input): `type` a
 * literal, `id` and `hotelId` expressions, `data` a `jsonb` expression; the row is written when `where` holds.
 */
export const outboxInsertSql = (part: {
  readonly type: string
  readonly id: string
  readonly hotelId: string
  readonly data: string
  readonly from: string
  readonly where: string
}): string => `
  INSERT INTO outbox_events (event_id, type, entity, hotel_id, data)
  SELECT gen_random_uuid(), '${part.type}', '${part.type.split(".")[0]}:' || (${part.id}), ${part.hotelId}, ${part.data}
  FROM ${part.from}
  WHERE ${part.where}`

export class Outbox extends Effect.Service<Outbox>()("infra/Outbox", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const insert = (type: string, data: EventData, subscriptionId: number | null) =>
      sql`INSERT INTO outbox_events (event_id, type, entity, hotel_id, subscription_id, data)
          VALUES (${randomUUID()}, ${type}, ${entityOf(type, data)}, ${data.hotel_id ?? null}, ${subscriptionId},
                  ${JSON.stringify(data)}::jsonb)
          RETURNING id`.pipe(Effect.map((rows) => Number(rows[0]?.["id"])))

    return {
      /** Writes the event in the current transaction (if any); the event's number is returned. */
      record: (type: string, data: EventData): Effect.Effect<number, SqlError> => insert(type, data, null),
      /** An event for one subscription only (a ping). */
      recordFor: (subscriptionId: number, type: string, data: EventData): Effect.Effect<number, SqlError> =>
        insert(type, data, subscriptionId)
    } as const
  })
}) {}

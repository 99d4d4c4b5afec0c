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

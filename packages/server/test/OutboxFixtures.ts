/**
 * The outbox as the event tests read it (docs/decisions.md D16): a mark (the last event's number) taken before
 * a write, then the events written since, in order.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export interface EventRow {
  readonly type: string
  readonly entity: string
  readonly hotel_id: number | null
  readonly data: Record<string, unknown>
}

/** The events written since `after` (an event number), in order. */
export const eventsAfter = (after: number) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<EventRow>`SELECT type, entity, hotel_id, data FROM outbox_events WHERE id > ${after} ORDER BY id`
  ).pipe(Effect.orDie)

/** The last event's number (0 when there is none): the mark `eventsAfter` counts from. */
export const lastEvent = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => sql<{ n: number }>`SELECT COALESCE(max(id), 0)::float8 AS n FROM outbox_events`
).pipe(
  Effect.map((rows) => rows[0]!.n),
  Effect.orDie
)

/**
 * The outbox events of what a delete takes with it (docs/decisions.md D16): deleting a room deletes its
 * bookings and holds (`ON DELETE CASCADE`), deleting a hotel its rooms and theirs, deleting a user their
 * bookings and holds. A receiver
 * that mirrors them must learn of it, so the delete's statement writes, beside the delete, in one round trip
 * however many rows go:
 *
 * - `room.deleted` for each room of a deleted hotel (`reason: "hotel_deleted"`; else `room_deleted`,
 *   `user_deleted`);
 * - `booking.cancelled` for each confirmed booking deleted (the booking's fields, `status: "cancelled"` and
 *   the `reason`); a booking already cancelled was reported when it was;
 * - `hold.released` for each active hold deleted before its expiry, `hold.expired` for one past it (the sweep
 *   would have said so; it no longer can); holds already confirmed, released or expired were reported.
 *
 * The parts read the rows as the statement starts, so the caller locks the rooms (or the user) first (`FOR
 * UPDATE`, which a new booking's or hold's reference to its room and user waits for): nothing is added to
 * them between the read and the cascade. Neither lock stops a booking's cancel, a hold's release or confirm,
 * which lock only the booking or the hold: one committing after the statement's start would be reported
 * twice (its own event and the cascade's). So the caller then locks the confirmed bookings and active holds
 * the cascade will report (`lockStaysSql`), in a statement of its own before it: a command under way is
 * waited for, and the cascade's statement, starting after, reads what it committed.
 *
 * Those locks are taken in the order room (or user) → stays, the order in which a hold's confirm and a
 * booking's change of dates take them too (migration 0022, docs/data.md BR-10). A delete PostgreSQL aborts all
 * the same (a deadlock with a writer taking them otherwise, an operator's SQL) fails with `DeleteAborted`, and
 * the service runs its whole transaction again (`retryDelete`), as a booking's or a hold's write is.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { outboxInsertSql } from "@shum/infra/Outbox"
import { classifySqlError } from "@shum/infra/SqlFailures"
import { Data, Effect } from "effect"
import { retryAborted } from "../Bookings/StayWrites.js"

/** The database aborted a delete (a deadlock, a serialization failure): nothing happened; it may be run again. */
export class DeleteAborted extends Data.TaggedError("DeleteAborted")<{ readonly cause: SqlError }> {}

/** A delete's SQL failure: aborted → `DeleteAborted`; anything else a defect. */
export const deleteFailed = (error: SqlError): Effect.Effect<never, DeleteAborted> =>
  classifySqlError(error) === "Aborted" ? Effect.fail(new DeleteAborted({ cause: error })) : Effect.die(error)

/**
 * A delete's whole transaction (the audit's snapshots included) run again when the database aborted it, up to
 * three times; then the database's failure (503 E-91, docs/errors.md).
 */
export const retryDelete = (what: string) => retryAborted("DeleteAborted", what)

export type CascadeReason = "room_deleted" | "hotel_deleted" | "user_deleted"

const holdData = (reason: CascadeReason, status: string) =>
  "jsonb_build_object('id', h.id, 'hotel_id', r.hotel_id, 'room_id', h.room_id, 'user_id', h.user_id, " +
  `'date_from', h.date_from, 'date_to', h.date_to, 'price', h.price, 'status', '${status}', 'reason', '${reason}')`

/**
 * The bookings' and holds' parts over `bookings` (a `FROM` clause naming the bookings deleted `b` and their
 * rooms `r`) and `holds` (the holds `h` and their rooms `r`).
 */
const stayParts = (bookings: string, holds: string, reason: CascadeReason) => [
  `cascade_bookings AS (${outboxInsertSql({
    type: "booking.cancelled",
    id: "b.id",
    hotelId: "r.hotel_id",
    data: `booking_json(b) || jsonb_build_object('hotel_id', r.hotel_id, 'status', 'cancelled', 'reason', '${reason}')`,
    from: bookings,
    where: "b.status = 'confirmed'"
  })})`,
  `cascade_released AS (${outboxInsertSql({
    type: "hold.released",
    id: "h.id",
    hotelId: "r.hotel_id",
    data: holdData(reason, "released"),
    from: holds,
    where: "h.status = 'active' AND h.expires_at > now()"
  })})`,
  `cascade_expired AS (${outboxInsertSql({
    type: "hold.expired",
    id: "h.id",
    hotelId: "r.hotel_id",
    data: holdData(reason, "expired"),
    from: holds,
    where: "h.status = 'active' AND h.expires_at <= now()"
  })})`
]

/**
 * `WITH` parts (comma-separated, to follow others) writing the events of the deletion of the rooms in
 * `rooms` — a relation of the statement with the columns `id` and `hotel_id`; `roomEvents`: their own
 * `room.deleted` too.
 */
export const cascadeEventParts = (rooms: string, reason: CascadeReason, roomEvents: boolean): string => {
  const parts = stayParts(
    `${rooms} r JOIN bookings b ON b.room_id = r.id`,
    `${rooms} r JOIN holds h ON h.room_id = r.id`,
    reason
  )
  if (roomEvents) {
    parts.unshift(
      `cascade_rooms AS (${outboxInsertSql({
        type: "room.deleted",
        id: "r.id",
        hotelId: "r.hotel_id",
        data: `jsonb_build_object('id', r.id, 'hotel_id', r.hotel_id, 'reason', '${reason}')`,
        from: `${rooms} r`,
        where: "true"
      })})`
    )
  }
  return parts.join(",\n")
}

/**
 * The same for the deletion of the users in `users` (a relation of the statement with the column `id`):
 * their confirmed bookings and active holds, with `reason: "user_deleted"`.
 */
export const userCascadeEventParts = (users: string): string =>
  stayParts(
    `${users} u JOIN bookings b ON b.user_id = u.id JOIN rooms r ON r.id = b.room_id`,
    `${users} u JOIN holds h ON h.user_id = u.id JOIN rooms r ON r.id = h.room_id`,
    "user_deleted"
  ).join(",\n")

/**
 * The statement locking the confirmed bookings and active holds `stays` selects (a condition on `room_id`,
 * `user_id`, with `$1`), in id order, before the cascade's statement (see above). A booking cancelled or a
 * hold ended meanwhile is re-checked under the lock and left out; it was reported by its own command.
 */
export const lockStaysSql = (stays: string): string =>
  `WITH b AS (SELECT id FROM bookings WHERE (${stays}) AND status = 'confirmed' ORDER BY id FOR UPDATE),
   h AS (SELECT id FROM holds WHERE (${stays}) AND status = 'active' ORDER BY id FOR UPDATE)
   SELECT (SELECT count(*) FROM b) + (SELECT count(*) FROM h) AS locked`

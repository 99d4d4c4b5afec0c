/**
 * Free units of rooms over a stay, counted per night (D2): a room type with `quantity` N has
 * `N − (the most bookings in the house on any one night of [from, to))` units free, never below 0.
 * (The original counted every overlapping booking once, so back-to-back stays blocked two units.)
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import { Effect, Layer } from "effect"

export class Availability extends Effect.Tag("server/Availability")<
  Availability,
  {
    /** Free units of each given room for the nights `from` … `to − 1`; rooms that do not exist are absent. */
    readonly freeUnits: (
      roomIds: ReadonlyArray<number>,
      from: string,
      to: string
    ) => Effect.Effect<ReadonlyMap<number, number>>
  }
>() {}

const toMap = (rows: ReadonlyArray<{ readonly room_id: number; readonly free: number }>) =>
  new Map(rows.map((row) => [row.room_id, row.free]))

/**
 * The free units of the room type `r` (a `rooms` row in scope of the fragment) over the nights
 * [from, to), from the inventory (`room_nights`, kept equal to the bookings by the database): one
 * primary-key range scan; a night without a row has nothing sold. Shared by `freeUnits` below and the
 * availability searches (`Catalogue/AvailabilitySearch.ts`), so both count alike.
 */
export const freeUnitsOfRoom = (sql: SqlClient.SqlClient, from: string, to: string): Statement.Fragment =>
  sql`GREATEST(r.quantity - COALESCE((
    SELECT max(n.sold) FROM room_nights n
    WHERE n.room_id = r.id AND n.night >= ${from}::date AND n.night < ${to}::date
  ), 0), 0)`

/** One statement for any number of rooms (`freeUnitsOfRoom` for each). */
export const AvailabilityLive = Layer.effect(
  Availability,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return Availability.of({
      freeUnits: (roomIds, from, to) =>
        roomIds.length === 0
          ? Effect.succeed(new Map())
          : sql<{ room_id: number; free: number }>`
              SELECT r.id AS room_id, ${freeUnitsOfRoom(sql, from, to)}::int AS free
              FROM rooms r
              WHERE r.id = ANY(${roomIds}::int[])`.pipe(
              Effect.map(toMap),
              Effect.orDie,
              Effect.withSpan("Availability.freeUnits", {
                attributes: { rooms: roomIds.length },
                captureStackTrace: false
              })
            )
    })
  })
)

/**
 * The same numbers counted from the `bookings` table itself. Slower (it expands every overlapping stay
 * into nights); kept as an independent oracle for tests of the inventory.
 */
export const AvailabilityFromBookings = Layer.effect(
  Availability,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return Availability.of({
      freeUnits: (roomIds, from, to) =>
        roomIds.length === 0
          ? Effect.succeed(new Map())
          : sql<{ room_id: number; free: number }>`
              SELECT r.id AS room_id,
                     GREATEST(r.quantity - COALESCE(busiest.taken, 0), 0)::int AS free
              FROM rooms r
              LEFT JOIN LATERAL (
                SELECT max(per_night.taken) AS taken FROM (
                  SELECT count(*) AS taken
                  FROM bookings b
                  CROSS JOIN LATERAL generate_series(
                    GREATEST(b.date_from, ${from}::date) - b.date_from,
                    LEAST(b.date_to, ${to}::date) - b.date_from - 1
                  ) AS i
                  WHERE b.room_id = r.id AND b.date_from < ${to}::date AND b.date_to > ${from}::date
                  GROUP BY b.date_from + i
                ) per_night
              ) busiest ON true
              WHERE r.id IN ${sql.in(roomIds)}`.pipe(
              Effect.map(toMap),
              Effect.orDie,
              Effect.withSpan("Availability.freeUnitsFromBookings")
            )
    })
  })
)

/**
 * What the tests and the bench check the server against; no Layer of the server uses this module
 * (`@shum/infra/Testing` is the shared database and Redis support).
 *
 * - `Availability`: free units of rooms over a stay (D2), counted two ways — `AvailabilityLive` with the
 *   searches' own fragment (`freeUnitsOfRoom`, `Catalogue/AvailabilitySearch.ts`) over the inventory, and
 *   `AvailabilityFromBookings`, an independent oracle that counts from the `bookings` and `holds` tables
 *   themselves (active holds not past `expires_at`, docs/data.md BR-13).
 * - `inventoryProblems`: the inventory's invariants checked against the bookings themselves (D2), run by the
 *   tests after every concurrency scenario and by the bench after its booking runs. An empty answer means:
 *   every (room, night) has `sold` equal to the number of confirmed bookings made directly in the house that
 *   night (a cancelled one holds none, docs/data.md BR-14) and `held` equal to its units taken through a hold:
 *   the active holds and the confirmed bookings made from a hold (`bookings.hold_id`, docs/data.md BR-13); no
 *   night has sold and held more than its capacity; no night from today (UTC) on has a capacity below the
 *   room's quantity (it would refuse units that exist). `INVENTORY_CHECK_SQL` is usable by an operator as is.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer } from "effect"
import { freeUnitsOfRoom } from "./Catalogue/AvailabilitySearch.js"

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

type FreeUnitsRow = { readonly room_id: number; readonly free: number }

/** An `Availability` counting with `query` (given at least one room), as the span `name`. */
const countedBy = (
  name: string,
  query: (
    sql: SqlClient.SqlClient,
    roomIds: ReadonlyArray<number>,
    from: string,
    to: string
  ) => Effect.Effect<ReadonlyArray<FreeUnitsRow>, SqlError>
) =>
  Layer.effect(
    Availability,
    Effect.map(SqlClient.SqlClient, (sql) =>
      Availability.of({
        freeUnits: (roomIds, from, to) =>
          roomIds.length === 0
            ? Effect.succeed(new Map())
            : query(sql, roomIds, from, to).pipe(
                Effect.map((rows) => new Map(rows.map((row) => [row.room_id, row.free]))),
                Effect.orDie,
                Effect.withSpan(name, { attributes: { rooms: roomIds.length }, captureStackTrace: false })
              )
      })
    )
  )

/** The inventory's count, as the availability searches make it: one statement for any number of rooms. */
export const AvailabilityLive = countedBy(
  "Availability.freeUnits",
  (sql, roomIds, from, to) => sql<FreeUnitsRow>`
    SELECT r.id AS room_id, ${freeUnitsOfRoom(sql, from, to)}::int AS free
    FROM rooms r
    WHERE r.id = ANY(${roomIds}::int[])`
)

/**
 * The same numbers counted from the `bookings` table itself. Slower (it expands every overlapping stay
 * into nights); the independent oracle of the inventory.
 */
export const AvailabilityFromBookings = countedBy(
  "Availability.freeUnitsFromBookings",
  (sql, roomIds, from, to) => sql<FreeUnitsRow>`
    SELECT r.id AS room_id,
           GREATEST(r.quantity - COALESCE(busiest.taken, 0), 0)::int AS free
    FROM rooms r
    LEFT JOIN LATERAL (
      SELECT max(per_night.taken) AS taken FROM (
        SELECT count(*) AS taken
        FROM (
          SELECT room_id, date_from, date_to FROM bookings WHERE status = 'confirmed'
          UNION ALL
          SELECT room_id, date_from, date_to FROM holds WHERE status = 'active' AND expires_at > now()
        ) b
        CROSS JOIN LATERAL generate_series(
          GREATEST(b.date_from, ${from}::date) - b.date_from,
          LEAST(b.date_to, ${to}::date) - b.date_from - 1
        ) AS i
        WHERE b.room_id = r.id AND b.date_from < ${to}::date AND b.date_to > ${from}::date
        GROUP BY b.date_from + i
      ) per_night
    ) busiest ON true
    WHERE r.id IN ${sql.in(roomIds)}`
)

export interface InventoryProblem {
  readonly room_id: number
  readonly night: string
  readonly sold: number
  /** Confirmed bookings made directly (`hold_id` NULL): what `sold` must be. */
  readonly booked: number
  readonly held: number
  /** Active holds and confirmed bookings made from a hold: what `held` must be (docs/data.md BR-13). */
  readonly holds: number
  readonly capacity: number | null
  readonly quantity: number | null
  readonly problem:
    "sold_differs_from_bookings" | "held_differs_from_holds" | "sold_above_capacity" | "capacity_below_quantity"
}

export const INVENTORY_CHECK_SQL = `
WITH booked AS (
  SELECT b.room_id, b.date_from + i AS night, count(*)::int AS booked
  FROM bookings b CROSS JOIN LATERAL generate_series(0, b.date_to - b.date_from - 1) AS i
  WHERE b.status = 'confirmed' AND b.hold_id IS NULL
  GROUP BY 1, 2
), holding AS (
  SELECT s.room_id, s.date_from + i AS night, count(*)::int AS holds
  FROM (
    SELECT h.room_id, h.date_from, h.date_to FROM holds h WHERE h.status = 'active'
    UNION ALL
    SELECT b.room_id, b.date_from, b.date_to FROM bookings b WHERE b.status = 'confirmed' AND b.hold_id IS NOT NULL
  ) s CROSS JOIN LATERAL generate_series(0, s.date_to - s.date_from - 1) AS i
  GROUP BY 1, 2
), counted AS (
  SELECT COALESCE(b.room_id, h.room_id) AS room_id, COALESCE(b.night, h.night) AS night,
         COALESCE(b.booked, 0) AS booked, COALESCE(h.holds, 0) AS holds
  FROM booked b FULL JOIN holding h ON h.room_id = b.room_id AND h.night = b.night
), nights AS (
  SELECT COALESCE(n.room_id, c.room_id) AS room_id, COALESCE(n.night, c.night) AS night,
         COALESCE(n.sold, 0) AS sold, COALESCE(c.booked, 0) AS booked,
         COALESCE(n.held, 0) AS held, COALESCE(c.holds, 0) AS holds, n.capacity
  FROM room_nights n FULL JOIN counted c ON c.room_id = n.room_id AND c.night = n.night
)
SELECT x.room_id, x.night, x.sold, x.booked, x.held, x.holds, x.capacity, r.quantity,
       CASE WHEN x.sold <> x.booked THEN 'sold_differs_from_bookings'
            WHEN x.held <> x.holds THEN 'held_differs_from_holds'
            WHEN x.sold + x.held > x.capacity THEN 'sold_above_capacity'
            ELSE 'capacity_below_quantity' END AS problem
FROM nights x LEFT JOIN rooms r ON r.id = x.room_id
WHERE x.sold <> x.booked
   OR x.held <> x.holds
   OR x.sold + x.held > x.capacity
   OR (x.night >= (now() AT TIME ZONE 'UTC')::date AND x.capacity < r.quantity)
ORDER BY x.room_id, x.night`

/** Every (room, night) breaking an invariant; `[]` when the inventory and the bookings agree. */
export const inventoryProblems = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.unsafe<InventoryProblem>(INVENTORY_CHECK_SQL)
).pipe(Effect.withSpan("Bookings.inventoryCheck"))

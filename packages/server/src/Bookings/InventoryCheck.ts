/**
 * The inventory's invariants, checked against the bookings themselves (D2). An empty answer means:
 * - every (room, night) has `sold` equal to the number of bookings in the house that night;
 * - no night has sold more than its capacity;
 * - no night from today (UTC) on has a capacity below the room's quantity (it would refuse units that exist).
 * Used by the tests after every concurrency scenario, and usable by an operator as is (`INVENTORY_CHECK_SQL`).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

export interface InventoryProblem {
  readonly room_id: number
  readonly night: string
  readonly sold: number
  readonly booked: number
  readonly capacity: number | null
  readonly quantity: number | null
  readonly problem: "sold_differs_from_bookings" | "sold_above_capacity" | "capacity_below_quantity"
}

export const INVENTORY_CHECK_SQL = `
WITH booked AS (
  SELECT b.room_id, b.date_from + i AS night, count(*)::int AS booked
  FROM bookings b CROSS JOIN LATERAL generate_series(0, b.date_to - b.date_from - 1) AS i
  GROUP BY 1, 2
), nights AS (
  SELECT COALESCE(n.room_id, b.room_id) AS room_id, COALESCE(n.night, b.night) AS night,
         COALESCE(n.sold, 0) AS sold, COALESCE(b.booked, 0) AS booked, n.capacity
  FROM room_nights n FULL JOIN booked b ON b.room_id = n.room_id AND b.night = n.night
)
SELECT x.room_id, x.night, x.sold, x.booked, x.capacity, r.quantity,
       CASE WHEN x.sold <> x.booked THEN 'sold_differs_from_bookings'
            WHEN x.sold > x.capacity THEN 'sold_above_capacity'
            ELSE 'capacity_below_quantity' END AS problem
FROM nights x LEFT JOIN rooms r ON r.id = x.room_id
WHERE x.sold <> x.booked
   OR x.sold > x.capacity
   OR (x.night >= (now() AT TIME ZONE 'UTC')::date AND x.capacity < r.quantity)
ORDER BY x.room_id, x.night`

/** Every (room, night) breaking an invariant; `[]` when the inventory and the bookings agree. */
export const inventoryProblems = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.unsafe<InventoryProblem>(INVENTORY_CHECK_SQL)
).pipe(Effect.withSpan("Bookings.inventoryCheck"))

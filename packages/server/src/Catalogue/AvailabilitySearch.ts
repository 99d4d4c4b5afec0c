/**
 * Both availability searches (docs/api.md H2, R2; D2) as one statement each, whose single value is the response
 * body: PostgreSQL counts the free units from the inventory (`takenOnBusiestNight` below), keeps the room types
 * with a unit free on every night, and writes the JSON itself — the same fields in the same order as the
 * `HotelWithRooms` / `AvailableRoom` / `Facility` models encode to, compact like `JSON.stringify`. The server
 * passes the text through (`Http/PreEncoded.ts`). A room type's JSON is its card (`room_cards`,
 * docs/data.md §1.13d: written by the database when the catalogue changes) with the free units put in.
 *
 * Why: a page of 10 hotels carries about 100 room types with their facilities (25 KB); built as rows,
 * objects and classes, then stringified, it took about 2 ms of the server's CPU per search (`npm run bench`,
 * issue 10); built by PostgreSQL per search, the facilities' JSON (a join, a sort and a `row_to_json` per room
 * type) and a free count made twice per room type took about 2.4 ms of PostgreSQL's CPU per page of hotels
 * (issue 18; bench/README.md "Availability searches").
 * `test/AvailabilitySearch.test.ts` checks the text against the models, against the free units counted
 * from the bookings table itself (`AvailabilityFromBookings`, `Testing.ts`) and against the JSON built from the
 * tables themselves (the previous statement), over random catalogues, stays and catalogue edits.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import { Effect, Option } from "effect"
import { contains, where, type Page } from "./SqlFilters.js"

export interface AvailableHotelsFilter extends Page {
  readonly title?: string | undefined
  /** Partial, case-insensitive, on the city's name. */
  readonly city?: string | undefined
  readonly hotel_id?: number | undefined
}

/**
 * Units taken of a room type on the busiest night of [from, to) (D2): the most of `sold` (bookings) + `held`
 * (active holds) on any one night (the original counted every overlapping booking once, so back-to-back stays
 * blocked two units); a room type with `quantity` N has `N − taken` units free, never below 0. A hold past
 * `expires_at` takes nothing even before the sweep records it (docs/data.md BR-13): on a night with units held,
 * the expired holds still counted there are subtracted (a probe of the few active holds). For the room type
 * `room` (a column of the statement), from the inventory (`room_nights`, kept equal to the bookings and holds
 * by the database): one primary-key range scan; a night without a row has nothing taken; 0 without rows.
 * A subquery of one column, `taken`: a scalar, or (an aggregate, so never flattened into the outer query and
 * evaluated once per row) a `LATERAL` relation.
 */
export const takenOnBusiestNight = (
  sql: SqlClient.SqlClient,
  room: string,
  from: string,
  to: string
): Statement.Fragment =>
  sql`(SELECT COALESCE(max(n.sold + CASE WHEN n.held = 0 THEN 0 ELSE n.held - (
      SELECT count(*) FROM holds h
      WHERE h.room_id = n.room_id AND h.status = 'active' AND h.expires_at <= now()
        AND h.date_from <= n.night AND h.date_to > n.night
    ) END), 0) AS taken FROM room_nights n
    WHERE n.room_id = ${sql.literal(room)} AND n.night >= ${from}::date AND n.night < ${to}::date)`

/** Free units of the room type `r` (a `rooms` row in scope) over [from, to): `takenOnBusiestNight`, never below 0. */
export const freeUnitsOfRoom = (sql: SqlClient.SqlClient, from: string, to: string): Statement.Fragment =>
  sql`GREATEST(r.quantity - ${takenOnBusiestNight(sql, "r.id", from, to)}, 0)`

/** Spans on the hot path: no call-site stack trace (an `Error` per call, whether traced or not). */
const NO_STACK = { captureStackTrace: false } as const

/** A JSON array as text (`[]` when empty), by `JSON.stringify`'s rules: no spaces. */
const jsonArray = (element: string, order: string) =>
  `COALESCE('[' || string_agg(${element}::text, ',' ORDER BY ${order}) || ']', '[]')`

export class AvailabilitySearch extends Effect.Service<AvailabilitySearch>()("server/AvailabilitySearch", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /**
     * `rooms`: the room types of hotel `hotelId` with a unit free on every night of [from, to), each with
     * `quantity` = its fewest free units over those nights, by id; a JSON array. Each room's JSON is its card
     * (`room_cards`, migration 0021: the fields before `quantity`, and the facilities' array, kept by the
     * database as the catalogue changes) around the free units counted here: one index range scan of the
     * room's nights, computed once per room type.
     */
    const roomsOf = (hotelId: Statement.Fragment, from: string, to: string) => sql`(
      SELECT ${sql.literal(jsonArray(`c.head || (r.quantity - t.taken) || ',"facilities":' || c.facilities || '}'`, "r.id"))}
      FROM rooms r
      CROSS JOIN LATERAL ${takenOnBusiestNight(sql, "r.id", from, to)} t
      JOIN room_cards c ON c.room_id = r.id
      WHERE r.hotel_id = ${hotelId} AND r.quantity > t.taken)`

    /**
     * H2: the page of hotels (by id), each with `rooms`; a JSON array. A hotel's JSON is `row_to_json` of its
     * fields without the closing brace, then `"rooms"` as text (not cast to `json`, which would parse it again).
     */
    const hotels = (q: AvailableHotelsFilter, from: string, to: string) =>
      sql<{ body: string }>`
        SELECT COALESCE('[' || string_agg(
          left(row_to_json(p)::text, -1) || ',"rooms":' || ${roomsOf(sql`p.id`, from, to)} || '}', ',' ORDER BY p.id
        ) || ']', '[]') AS body
        FROM (
          SELECT h.id, h.title, h.address, h.postal_code,
            h.check_in_time::text AS check_in_time, h.check_out_time::text AS check_out_time,
            ci.name AS city, co.name AS country
          FROM hotels h JOIN cities ci ON ci.id = h.city_id JOIN countries co ON co.id = ci.country_id
          WHERE ${where(sql, [
            q.title === undefined ? undefined : contains(sql, "h.title", q.title),
            q.city === undefined ? undefined : contains(sql, "ci.name", q.city),
            q.hotel_id === undefined ? undefined : sql`h.id = ${q.hotel_id}`
          ])}
          ORDER BY h.id LIMIT ${q.limit} OFFSET ${q.offset}
        ) p`.pipe(Effect.map((rows) => rows[0]!.body))

    /** R2: the hotel's free room types (a JSON array), or `None` when there is no such hotel. */
    const rooms = (hotelId: number, from: string, to: string) =>
      sql<{ body: string | null }>`
        SELECT CASE WHEN EXISTS (SELECT 1 FROM hotels WHERE id = ${hotelId})
          THEN ${roomsOf(sql`${hotelId}`, from, to)} END AS body`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]?.body))
      )

    return {
      hotels: (filter: AvailableHotelsFilter, from: string, to: string) =>
        hotels(filter, from, to).pipe(Effect.orDie, Effect.withSpan("AvailabilitySearch.hotels", NO_STACK)),
      rooms: (hotelId: number, from: string, to: string) =>
        rooms(hotelId, from, to).pipe(Effect.orDie, Effect.withSpan("AvailabilitySearch.rooms", NO_STACK))
    } as const
  })
}) {}

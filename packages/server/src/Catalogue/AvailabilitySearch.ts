/**
 * Both availability searches (docs/api.md H2, R2; D2). PostgreSQL counts the free units from the inventory
 * (`takenOnBusiestNight` below) and keeps the room types with a unit free on every night; the answer is JSON
 * with the same fields in the same order as the `HotelWithRooms` / `AvailableRoom` / `Facility` models encode
 * to, compact like `JSON.stringify`, passed through as bytes (`Http/PreEncoded.ts`). Two ways to the same bytes:
 *
 * - **With the fragments** (the default; `CATALOGUE_CACHE_ENABLED=false` turns it off, as the catalogue read
 *   cache): the statement returns the catalogue's version and, per hotel of the page, its free room types'
 *   ids and free units as a short text (`1:12=3,15=1;2:`); the JSON is pasted together from the catalogue's
 *   fragments kept in memory for that very version (`AvailabilityCards.ts`, docs/decisions.md D7), read in one
 *   more statement for the hotels not kept yet. A statement that saw an older version than the kept one
 *   answers by the full statement below. Why: the page of 10 hotels is about 25 KB of JSON; written by
 *   PostgreSQL per search, it cost PostgreSQL the concatenation and the server the reading, the UTF-8
 *   decoding and encoding again of every byte (bench/README.md "Availability searches").
 *   R2's free units' statement is shared by the searches that wait for one (`Batches`): while four run, those
 *   that arrive go together in the next, a row each, so under load a search does not pay a statement's fixed
 *   costs alone (bench/README.md "Availability searches", third pass); H2's pages are sent alone.
 * - **The full statement**, whose single value is the response body: PostgreSQL writes the JSON itself, a
 *   room type's being its card (`room_cards`, docs/data.md §1.13d: written by the database when the catalogue
 *   changes) with the free units put in.
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
import type { SqlError } from "@effect/sql/SqlError"
import { AppConfig } from "@shum/infra/Config"
import { PgPool, runDirect } from "@shum/infra/DirectStatements"
import { MAX_PARAMETERS } from "@shum/infra/PreparedStatements"
import { spanned } from "@shum/infra/Telemetry"
import { Effect, Exit, Option, Runtime } from "effect"
import {
  assembleHotels,
  assembleRooms,
  FragmentStore,
  hotelFragments,
  type HotelFragments,
  parseFreeHotels,
  parseFreeRooms
} from "./AvailabilityCards.js"
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

/**
 * `takenOnBusiestNight` as a fixed text, for the statements run on the pool directly (`runDirect`): the same
 * SQL with `from` and `to` placeholders (`$1`, `$2`).
 */
const takenOnBusiestNightText = (room: string, from: string, to: string): string =>
  `(SELECT COALESCE(max(n.sold + CASE WHEN n.held = 0 THEN 0 ELSE n.held - (
      SELECT count(*) FROM holds h
      WHERE h.room_id = n.room_id AND h.status = 'active' AND h.expires_at <= now()
        AND h.date_from <= n.night AND h.date_to > n.night
    ) END), 0) AS taken FROM room_nights n
    WHERE n.room_id = ${room} AND n.night >= ${from}::date AND n.night < ${to}::date)`

/**
 * `takenOnBusiestNight` for every room type of the hotel `hotel` (a column of the statement) at once, as a
 * relation `(room_id, taken)` with a row per room type that has a night of [from, to) in the inventory (one
 * without has nothing taken: 0, as above). The same count per night, read in one range scan of the hotel's
 * nights (`ix_room_nights_hotel_night`, migration 0028: `room_nights.hotel_id` is the room's hotel, kept so by
 * its foreign key) instead of one primary-key range scan per room type; for H2's page of 10 hotels × 10 room
 * types, 10 index descents instead of 100 (bench/README.md "Availability searches", fourth pass).
 */
const takenByRoomOfHotelText = (hotel: string, from: string, to: string): string =>
  `(SELECT n.room_id, max(n.sold + CASE WHEN n.held = 0 THEN 0 ELSE n.held - (
      SELECT count(*) FROM holds h
      WHERE h.room_id = n.room_id AND h.status = 'active' AND h.expires_at <= now()
        AND h.date_from <= n.night AND h.date_to > n.night
    ) END) AS taken FROM room_nights n
    WHERE n.hotel_id = ${hotel} AND n.night >= ${from}::date AND n.night < ${to}::date
    GROUP BY n.room_id)`

/** Free units of the room type `r` (a `rooms` row in scope) over [from, to): `takenOnBusiestNight`, never below 0. */
export const freeUnitsOfRoom = (sql: SqlClient.SqlClient, from: string, to: string): Statement.Fragment =>
  sql`GREATEST(r.quantity - ${takenOnBusiestNight(sql, "r.id", from, to)}, 0)`

/**
 * Spans on the hot path: no call-site stack trace (an `Error` per call, whether traced or not), and made only while
 * tracing is enabled (`spanned`: a disabled `withSpan` still copies the fiber's context, ≈ 10 µs a call).
 */
const NO_STACK = { captureStackTrace: false } as const

/** A JSON array as text (`[]` when empty), by `JSON.stringify`'s rules: no spaces. */
const jsonArray = (element: string, order: string) =>
  `COALESCE('[' || string_agg(${element}::text, ',' ORDER BY ${order}) || ']', '[]')`

/** The free room types of one hotel or a page of hotels, with the catalogue's version read in the same snapshot. */
const FREE_UNITS = `r.id || '=' || (r.quantity - t.taken)`
/** The same, `t` being `takenByRoomOfHotelText`'s row of the room type `r` or none (nothing taken). */
const PAGE_FREE_UNITS = `r.id || '=' || (r.quantity - COALESCE(t.taken, 0))`

/**
 * H2's page of hotels (as `hotels` below selects it: the filters asked for, by id, `limit` rows from `offset`),
 * each `id:` with its free room types `id=free units` by id (`1:12=3,15=1;2:`), and the catalogue's version; for
 * `size` searches at once, a row each, `i` its place (the service sends each page alone: `size` 1). One text per
 * combination of filters (title, city, hotel), so each is one prepared statement with its own plan. The nights
 * are read per hotel of the page (`takenByRoomOfHotelText`), one range scan each. A search's parameters in this
 * order: the stay (`date_from`, `date_to`), `limit`, `offset`, then the filters' values in the order above.
 */
const freeHotelsText = (mask: number, size: number): string => {
  const columns = ["date_from", "date_to", "lim", "off"]
  const types = ["date", "date", "bigint", "bigint"]
  const conditions: Array<string> = []
  // as `contains` (SqlFilters.ts) and `hotels` below write them
  if ((mask & 1) !== 0) {
    columns.push("title")
    types.push("text")
    conditions.push(`lower(h.title) LIKE '%' || lower(s.title) || '%'`)
  }
  // the city alone (the bench's search): the hotels of the cities named so, as an array, filtering the walk by id
  // (the same hotels, each with its city and country) instead of a join per hotel walked: 2.10 M → 2.00 M
  // instructions per statement (bench/README.md "Availability searches", fourth pass). With a title or a hotel
  // too the join stays: with it the planner reads the city's hotels by `ix_hotels_city_id` instead of them all.
  const cityAlone = mask === 2
  if ((mask & 2) !== 0) {
    columns.push("city")
    types.push("text")
    conditions.push(
      cityAlone
        ? `h.city_id = ANY (ARRAY(SELECT ci.id FROM cities ci JOIN countries co ON co.id = ci.country_id
          WHERE lower(ci.name) LIKE '%' || lower(s.city) || '%'))`
        : `lower(ci.name) LIKE '%' || lower(s.city) || '%'`
    )
  }
  if ((mask & 4) !== 0) {
    columns.push("hotel_id")
    types.push("int")
    conditions.push(`h.id = s.hotel_id`)
  }
  return `SELECT s.i, (SELECT version FROM catalogue_version)::text AS version, f.free
  FROM ${searches(types, size)} AS s(${columns.join(", ")}, i)
  CROSS JOIN LATERAL (
    SELECT string_agg(x.id || ':' || x.rooms, ';' ORDER BY x.id) AS free
    FROM (
      SELECT p.id,
        COALESCE(string_agg(${PAGE_FREE_UNITS}, ',' ORDER BY r.id) FILTER (WHERE r.quantity > COALESCE(t.taken, 0)), '')
        AS rooms
      FROM (
        SELECT h.id
        FROM hotels h${cityAlone ? "" : " JOIN cities ci ON ci.id = h.city_id JOIN countries co ON co.id = ci.country_id"}
        WHERE ${conditions.length === 0 ? "true" : conditions.join(" AND ")}
        ORDER BY h.id LIMIT s.lim OFFSET s.off
      ) p
      LEFT JOIN rooms r ON r.hotel_id = p.id
      LEFT JOIN LATERAL ${takenByRoomOfHotelText("p.id", "s.date_from", "s.date_to")} t ON t.room_id = r.id
      GROUP BY p.id
    ) x
  ) f`
}

/**
 * `size` searches as rows of typed placeholders (`$1` …, `types.length` a row) and their place `i` (0 …):
 * `(VALUES ($1::date, $2::date, $3::int, 0), …)`. Scalars, not arrays: with `unnest` of arrays PostgreSQL
 * estimates 10 rows whatever the count, so the plan made for each execution's count always looked cheaper
 * than the generic one and every execution was planned again (≈ 0.5 ms).
 */
const searches = (types: ReadonlyArray<string>, size: number): string => {
  const rows: Array<string> = []
  for (let i = 0; i < size; i++) {
    const values = types.map((type, k) => `$${i * types.length + k + 1}::${type}`)
    rows.push(`(${values.join(", ")}, ${i})`)
  }
  return `(VALUES ${rows.join(", ")})`
}

/**
 * R2: per search (`i` its place in the batch) whether its hotel exists, its free room types `id=free units` by
 * id (`12=3,15=1`), and the version. A search's parameters: `date_from`, `date_to`, the hotel.
 */
const freeRoomsText = (size: number): string =>
  `SELECT s.i, (SELECT version FROM catalogue_version)::text AS version,
  EXISTS (SELECT 1 FROM hotels WHERE id = s.hotel) AS found,
  (SELECT string_agg(${FREE_UNITS}, ',' ORDER BY r.id)
   FROM rooms r CROSS JOIN LATERAL ${takenOnBusiestNightText("r.id", "s.date_from", "s.date_to")} t
   WHERE r.hotel_id = s.hotel AND r.quantity > t.taken) AS free
  FROM ${searches(["date", "date", "int"], size)} AS s(date_from, date_to, hotel, i)`
const PER_ROOMS_SEARCH = 3

/**
 * Searches waiting for a statement are answered together (a batch: one statement, one snapshot, a row each)
 * when `RUNNING` statements of their kind are under way already: opportunistic, so a search alone is sent at
 * once as before, and under load the waiting ones share a statement's fixed costs — the round trip, the
 * server's driver work, PostgreSQL's executor start and the version's read (bench/README.md "Availability
 * searches", third pass). Each search still counts its own free units; a batch's statement starts after every
 * search in it was received, so it sees every write committed before any of them (docs/decisions.md D7).
 * A batch is at most as many searches as keep the statement's parameters within the named statements' limit
 * (`MAX_PARAMETERS`). A search interrupted while waiting leaves its batch; one interrupted while its batch
 * runs lets it run (the others wait for it) and drops its row. A failed statement fails every search of its
 * batch with the same error.
 */
const RUNNING = 4

interface Waiter<Q, R> {
  readonly query: Q
  /** The search's fiber's runtime: its span, logger and tracing (the batch's statement runs in the first's). */
  readonly runtime: Runtime.Runtime<never>
  readonly resume: (effect: Effect.Effect<R, SqlError>) => void
  cancelled: boolean
}

export class Batches<Q, R> {
  private readonly waiting: Array<Waiter<Q, R>> = []
  private running = 0

  constructor(
    /** Statements run and searches they answered, across batchers (tests). */
    private readonly counts: { statements: number; batched: number },
    private readonly maxSize: number,
    private readonly run: (
      queries: ReadonlyArray<Q>,
      runtime: Runtime.Runtime<never>,
      done: (exit: Exit.Exit<ReadonlyArray<R>, SqlError>) => void
    ) => void
  ) {}

  /** The row of `query`, from the next statement that can take it. */
  submit(query: Q): Effect.Effect<R, SqlError> {
    return Effect.flatMap(Effect.runtime<never>(), (runtime) =>
      Effect.async<R, SqlError>((resume) => {
        const waiter: Waiter<Q, R> = { query, runtime, resume, cancelled: false }
        this.waiting.push(waiter)
        this.pump()
        return Effect.sync(() => {
          waiter.cancelled = true
        })
      })
    )
  }

  private pump(): void {
    while (this.running < RUNNING && this.waiting.length > 0) {
      const batch: Array<Waiter<Q, R>> = []
      while (batch.length < this.maxSize && this.waiting.length > 0) {
        const waiter = this.waiting.shift()!
        if (!waiter.cancelled) batch.push(waiter)
      }
      if (batch.length === 0) continue
      this.running++
      this.counts.statements++
      if (batch.length > 1) this.counts.batched += batch.length
      this.run(
        batch.map((waiter) => waiter.query),
        batch[0]!.runtime,
        (exit) => {
          this.running--
          for (let i = 0; i < batch.length; i++) {
            const waiter = batch[i]!
            if (waiter.cancelled) continue
            waiter.resume(Exit.isSuccess(exit) ? Effect.succeed(exit.value[i]!) : (exit as Exit.Exit<never, SqlError>))
          }
          this.pump()
        }
      )
    }
  }
}

/**
 * The fragments of the hotels `$1` (`AvailabilityCards.ts`) read from the catalogue's tables, with the version:
 * a row per room type (by hotel, then room id; a hotel without rooms has one row, its room null). The hotel's
 * `prefix` is written as `hotels` below writes it, a room's `head` and `tail` by the functions that write the
 * room cards (migration 0021), from the rooms' and facilities' rows.
 */
const FRAGMENTS = `SELECT (SELECT version FROM catalogue_version)::text AS version, p.id AS hotel_id,
    left(row_to_json(p)::text, -1) || ',"rooms":' AS prefix, r.id AS room_id,
    room_card_head(r.id, r.hotel_id, r.title, r.description, r.price) AS head,
    ',"facilities":' || room_card_facilities(r.id) || '}' AS tail
  FROM (
    SELECT h.id, h.title, h.address, h.postal_code,
      h.check_in_time::text AS check_in_time, h.check_out_time::text AS check_out_time,
      ci.name AS city, co.name AS country
    FROM hotels h JOIN cities ci ON ci.id = h.city_id JOIN countries co ON co.id = ci.country_id
    WHERE h.id = ANY ($1::int[])
  ) p
  LEFT JOIN rooms r ON r.hotel_id = p.id
  ORDER BY p.id, r.id`

interface FragmentRow {
  readonly version: string
  readonly hotel_id: number
  readonly prefix: string
  readonly room_id: number | null
  readonly head: string | null
  readonly tail: string | null
}

export class AvailabilitySearch extends Effect.Service<AvailabilitySearch>()("server/AvailabilitySearch", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const pool = yield* PgPool
    const { catalogueCache: settings } = yield* AppConfig

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

    /** The full statements' answers, as bytes. */
    const fullHotels = (filter: AvailableHotelsFilter, from: string, to: string) =>
      Effect.map(hotels(filter, from, to), (body) => Buffer.from(body, "utf8"))
    const fullRooms = (hotelId: number, from: string, to: string) =>
      Effect.map(
        rooms(hotelId, from, to),
        Option.map((body) => Buffer.from(body, "utf8"))
      )

    /**
     * Hotels answered from kept fragments, hotels read, answers given by the full statement instead, the free
     * units' statements and the searches answered in batches of two or more (tests).
     */
    const counts = { kept: 0, read: 0, full: 0, statements: 0, batched: 0 }

    /**
     * A batch's statement runs on a fiber of its own (it serves several requests, none of which may cancel it)
     * in the runtime of its first search's fiber: its span is the statement's parent, as for a search alone.
     */
    const batches = <R extends { readonly i: number }>(perSearch: number, text: (size: number) => string) => {
      const texts = new Map<number, string>()
      return new Batches<ReadonlyArray<unknown>, R>(
        counts,
        Math.floor(MAX_PARAMETERS / perSearch),
        (queries, runtime, done) => {
          const size = queries.length
          let statement = texts.get(size)
          if (statement === undefined) texts.set(size, (statement = text(size)))
          Runtime.runCallback(runtime)(runDirect<R>(pool, statement, queries.flat()), {
            onExit: (exit) =>
              done(
                Exit.map(exit, (rows) => {
                  const bySearch = new Array<R>(size)
                  for (const row of rows) bySearch[row.i] = row
                  return bySearch
                })
              )
          })
        }
      )
    }
    /**
     * H2's pages are sent alone, one statement each (the text of a batch of one): batched, a page's ≈ 300 µs of
     * room types' nights per search is run one search after another on one backend, and the A/B's p99 was no
     * better for it (bench/README.md "Availability searches", third pass).
     */
    const FREE_HOTELS = Array.from({ length: 8 }, (_, mask) => freeHotelsText(mask, 1))
    const freeHotels = (mask: number, values: ReadonlyArray<unknown>) =>
      Effect.map(
        runDirect<{ version: string; free: string | null }>(pool, FREE_HOTELS[mask]!, values),
        (rows) => rows[0]!
      )
    const freeRooms = batches<{ i: number; version: string; found: boolean; free: string | null }>(
      PER_ROOMS_SEARCH,
      freeRoomsText
    )

    const store = new FragmentStore(settings.maxBytes)

    /** The fragments of `ids` read under `version`, each kept; `undefined` when the catalogue changed since. */
    const read = (ids: ReadonlyArray<number>, version: number) =>
      Effect.map(runDirect<FragmentRow>(pool, FRAGMENTS, [ids]), (rows) => {
        if (rows.length === 0 || Number(rows[0]!.version) !== version) return undefined
        const hotels = new Map<number, HotelFragments>()
        let i = 0
        while (i < rows.length) {
          const { hotel_id, prefix } = rows[i]!
          const rooms: Array<readonly [number, string, string]> = []
          for (; i < rows.length && rows[i]!.hotel_id === hotel_id; i++) {
            const row = rows[i]!
            if (row.room_id !== null) rooms.push([row.room_id, row.head!, row.tail!])
          }
          const fragments = hotelFragments(prefix, rooms)
          hotels.set(hotel_id, fragments)
          store.set(version, hotel_id, fragments)
        }
        counts.read += hotels.size
        return hotels
      })

    /** The fragments of `ids` under `version`: kept, else read; `undefined` when the catalogue changed since. */
    const fragmentsOf = (
      ids: ReadonlyArray<number>,
      version: number
    ): Effect.Effect<ReadonlyArray<HotelFragments> | undefined, SqlError> => {
      const kept = ids.map((id) => store.get(version, id))
      const missing = ids.filter((_, i) => kept[i] === undefined)
      counts.kept += ids.length - missing.length
      if (missing.length === 0) return Effect.succeed(kept as ReadonlyArray<HotelFragments>)
      return Effect.map(read(missing, version), (fresh) => {
        if (fresh === undefined) return undefined
        const all: Array<HotelFragments> = []
        for (let i = 0; i < ids.length; i++) {
          const fragments = kept[i] ?? fresh.get(ids[i]!)
          if (fragments === undefined) return undefined
          all.push(fragments)
        }
        return all
      })
    }

    /** H2 from the free units and the fragments (the full statement when they do not fit). */
    const hotelsFromFragments = (q: AvailableHotelsFilter, from: string, to: string) => {
      const values: Array<unknown> = [from, to, q.limit, q.offset]
      let mask = 0
      if (q.title !== undefined) {
        mask |= 1
        values.push(q.title)
      }
      if (q.city !== undefined) {
        mask |= 2
        values.push(q.city)
      }
      if (q.hotel_id !== undefined) {
        mask |= 4
        values.push(q.hotel_id)
      }
      return Effect.flatMap(freeHotels(mask, values), (row): Effect.Effect<Uint8Array, SqlError> => {
        const version = Number(row.version)
        const page = parseFreeHotels(row.free)
        if (!store.at(version)) return full(fullHotels(q, from, to))
        return Effect.flatMap(
          fragmentsOf(
            page.map((hotel) => hotel.hotelId),
            version
          ),
          (fragments) => {
            const body = fragments === undefined ? undefined : assembleHotels(page, fragments)
            return body === undefined ? full(fullHotels(q, from, to)) : Effect.succeed(body)
          }
        )
      })
    }

    /** R2 from the free units and the fragments (the full statement when they do not fit). */
    const roomsFromFragments = (hotelId: number, from: string, to: string) =>
      Effect.flatMap(
        freeRooms.submit([from, to, hotelId]),
        (row): Effect.Effect<Option.Option<Uint8Array>, SqlError> => {
          if (!row.found) return Effect.succeed(Option.none())
          const version = Number(row.version)
          if (!store.at(version)) return full(fullRooms(hotelId, from, to))
          return Effect.flatMap(fragmentsOf([hotelId], version), (fragments) => {
            const body =
              fragments === undefined ? undefined : assembleRooms(fragments[0]!, parseFreeRooms(row.free ?? ""))
            return body === undefined ? full(fullRooms(hotelId, from, to)) : Effect.succeed(Option.some(body))
          })
        }
      )

    const full = <A>(answer: Effect.Effect<A, SqlError>) =>
      Effect.suspend(() => {
        counts.full++
        return answer
      })

    const fragments = settings.enabled
    return {
      /** H2's answer: the page of hotels with their free rooms, a JSON array as bytes. */
      hotels: (filter: AvailableHotelsFilter, from: string, to: string): Effect.Effect<Uint8Array> =>
        (fragments ? hotelsFromFragments(filter, from, to) : fullHotels(filter, from, to)).pipe(
          Effect.orDie,
          spanned("AvailabilitySearch.hotels", NO_STACK)
        ),
      /** R2's answer: the hotel's free rooms, a JSON array as bytes; `None` when there is no such hotel. */
      rooms: (hotelId: number, from: string, to: string): Effect.Effect<Option.Option<Uint8Array>> =>
        (fragments ? roomsFromFragments(hotelId, from, to) : fullRooms(hotelId, from, to)).pipe(
          Effect.orDie,
          spanned("AvailabilitySearch.rooms", NO_STACK)
        ),
      /** What is kept now and what happened so far (tests). */
      stats: () => ({ ...store.size, version: store.version, ...counts })
    } as const
  })
}) {}

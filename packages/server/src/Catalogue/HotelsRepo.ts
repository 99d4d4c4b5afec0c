/**
 * The `hotels` table (docs/data.md §1.3). A hotel is read with the names of its city and of that city's
 * country, in one statement whatever the page size.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { Hotel } from "@shum/domain/Hotels"
import { Outbox } from "@shum/infra/Outbox"
import { Effect, Schema } from "effect"
import { cascadeEventParts, deleteFailed, lockStaysSql } from "./CascadeEvents.js"
import { contains, where, type Page } from "./SqlFilters.js"

export const DEFAULT_CHECK_IN = "14:00:00"
export const DEFAULT_CHECK_OUT = "12:00:00"

/** Columns a write may set; `undefined` = leave as is, `null` = store null. */
export interface HotelFields {
  readonly title?: string | undefined
  readonly city_id?: number | undefined
  readonly address?: string | undefined
  readonly postal_code?: string | null | undefined
  readonly check_in_time?: string | null | undefined
  readonly check_out_time?: string | null | undefined
}

export interface HotelsFilter extends Page {
  readonly title?: string | undefined
  /** Partial, case-insensitive, on the city's name. */
  readonly city?: string | undefined
  readonly city_id?: number | undefined
  readonly hotel_id?: number | undefined
  readonly sort_by?: "id" | "title" | "city" | undefined
  readonly order?: "asc" | "desc" | undefined
}

const SORT_KEYS = { id: "h.id", title: "h.title", city: "ci.name" } as const

/** H1: the key asked for, then the id in the same direction, so that pages never overlap or skip rows. */
const orderBy = (sortBy: HotelsFilter["sort_by"] = "id", order: HotelsFilter["order"] = "asc") => {
  const direction = order === "desc" ? "DESC" : "ASC"
  return sortBy === "id" ? `h.id ${direction}` : `${SORT_KEYS[sortBy]} ${direction}, h.id ${direction}`
}

const HotelRow = Schema.Struct({ id: Schema.Int, title: Schema.String, city_id: Schema.Int })

const definedOnly = (fields: HotelFields) =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined))

export class HotelsRepo extends Effect.Service<HotelsRepo>()("server/HotelsRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const outbox = yield* Outbox
    // Times as text (`HH:MM:SS[.f]`), which `Hotel` normalises (docs/api.md §1.2). Inner joins: the foreign
    // keys are NOT NULL, and a join (not the original's cross join) never duplicates a hotel.
    const select = sql`SELECT h.id, h.title, h.address, h.postal_code,
        h.check_in_time::text AS check_in_time, h.check_out_time::text AS check_out_time,
        ci.name AS city, co.name AS country
      FROM hotels h JOIN cities ci ON ci.id = h.city_id JOIN countries co ON co.id = ci.country_id`

    /**
     * A page's rows are `Hotel`s by the table's definition — and PostgreSQL writes a `time` as `TimeString`
     * normalises it (`HH:MM:SS`, a fraction without trailing zeros) — so they are built as they are (`true`:
     * not validated field by field on every catalogue read). A single hotel is decoded.
     */
    const list = (q: HotelsFilter) =>
      sql<ConstructorParameters<typeof Hotel>[0]>`${select}
          WHERE ${where(sql, [
            q.title === undefined ? undefined : contains(sql, "h.title", q.title),
            q.city === undefined ? undefined : contains(sql, "ci.name", q.city),
            q.city_id === undefined ? undefined : sql`h.city_id = ${q.city_id}`,
            q.hotel_id === undefined ? undefined : sql`h.id = ${q.hotel_id}`
          ])}
          ORDER BY ${sql.literal(orderBy(q.sort_by, q.order))} LIMIT ${q.limit} OFFSET ${q.offset}`.pipe(
        Effect.map((rows) => rows.map((row) => new Hotel(row, true)))
      )
    const findById = SqlSchema.findOne({
      Request: Schema.Int,
      Result: Hotel,
      execute: (id) => sql`${select} WHERE h.id = ${id}`
    })
    const findRow = SqlSchema.findOne({
      Request: Schema.Int,
      Result: HotelRow,
      execute: (id) => sql`SELECT id, title, city_id FROM hotels WHERE id = ${id}`
    })
    const exists = (id: number) =>
      sql`SELECT 1 FROM hotels WHERE id = ${id}`.pipe(Effect.map((rows) => rows.length > 0))
    /**
     * BR-1: the city is named case-insensitively over all countries. When several cities share the name,
     * the one with the lowest id is used (docs/api.md §8.5 DEFECT: the original crashed with a 500).
     */
    const cityIdByName = SqlSchema.findOne({
      Request: Schema.String,
      Result: Schema.Struct({ id: Schema.Int }),
      execute: (name) => sql`SELECT id FROM cities WHERE lower(name) = lower(${name}) ORDER BY id LIMIT 1`
    })
    /** BR-2: exact, case-sensitive (`hotels_title_key` backs it). */
    const titleTaken = (title: string, exceptId?: number) =>
      sql`SELECT 1 FROM hotels WHERE title = ${title} ${exceptId === undefined ? sql`` : sql`AND id <> ${exceptId}`}`.pipe(
        Effect.map((rows) => rows.length > 0)
      )
    // a create and a delete record their outbox events in their transaction (docs/decisions.md D16); an
    // update's `hotel.updated`, with the before/after of what changed, is recorded by `HotelsService`
    const insert = (fields: HotelFields) =>
      Effect.gen(function* () {
        const set = definedOnly(fields)
        const [row] = yield* sql<{ id: number }>`INSERT INTO hotels ${sql.insert(set)} RETURNING id`
        yield* outbox.record("hotel.created", { ...set, id: row!.id, hotel_id: row!.id })
        return row!.id
      }).pipe(sql.withTransaction)
    const update = (id: number, fields: HotelFields): Effect.Effect<void, SqlError> => {
      const set = definedOnly(fields)
      return Object.keys(set).length === 0
        ? Effect.void
        : Effect.asVoid(sql`UPDATE hotels SET ${sql.update(set)} WHERE id = ${id}`)
    }
    /**
     * Rooms, their bookings, holds and facility links, and image links go with it (`ON DELETE CASCADE`); the
     * rooms', bookings' and holds' events are written by the delete's statement (`CascadeEvents.ts`) after
     * the hotel (no room added meanwhile), its rooms (no booking or hold) and their confirmed bookings and active
     * holds (no cancel, release or confirm under way) are locked: four round trips however many rooms.
     * Aborted by the database (a deadlock with a confirm): `DeleteAborted`, which the service runs again.
     */
    const remove = (id: number) =>
      Effect.gen(function* () {
        yield* sql`SELECT id FROM hotels WHERE id = ${id} FOR UPDATE`
        yield* sql`SELECT id FROM rooms WHERE hotel_id = ${id} ORDER BY id FOR UPDATE`
        yield* sql.unsafe(lockStaysSql("room_id IN (SELECT id FROM rooms WHERE hotel_id = $1)"), [id])
        const rows = yield* sql`
          WITH r AS MATERIALIZED (SELECT id, hotel_id FROM rooms WHERE hotel_id = ${id}),
          ${sql.unsafe(cascadeEventParts("r", "hotel_deleted", true))},
          deleted AS (DELETE FROM hotels WHERE id = ${id} RETURNING id)
          SELECT id FROM deleted`
        if (rows.length > 0) yield* outbox.record("hotel.deleted", { id, hotel_id: id })
        return rows.length > 0
      }).pipe(sql.withTransaction)

    return {
      list: (filter: HotelsFilter) => list(filter).pipe(Effect.orDie),
      findById: (id: number) => findById(id).pipe(Effect.orDie),
      findRow: (id: number) => findRow(id).pipe(Effect.orDie),
      exists: (id: number) => exists(id).pipe(Effect.orDie),
      cityIdByName: (name: string) => cityIdByName(name).pipe(Effect.orDie),
      titleTaken: (title: string, exceptId?: number) => titleTaken(title, exceptId).pipe(Effect.orDie),
      insert: (fields: HotelFields) => insert(fields).pipe(Effect.orDie),
      update: (id: number, fields: HotelFields) => update(id, fields).pipe(Effect.asVoid, Effect.orDie),
      remove: (id: number) => remove(id).pipe(Effect.catchTag("SqlError", deleteFailed))
    } as const
  }),
  dependencies: [Outbox.Default]
}) {}

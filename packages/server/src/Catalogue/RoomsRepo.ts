/**
 * The `rooms` table and its facility links (docs/data.md §1.4–1.6, BR-3). A room is read with its facilities,
 * ordered by facility id, in the same statement: any page of rooms costs one query.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { Facility, Room } from "@shum/domain/Rooms"
import { Outbox } from "@shum/infra/Outbox"
import { classifySqlError } from "@shum/infra/SqlFailures"
import { Data, Effect, Option, Schema } from "effect"
import { cascadeEventParts, deleteFailed, lockStaysSql } from "./CascadeEvents.js"
import { contains, where, type Page } from "./SqlFilters.js"

/**
 * The inventory's CHECK refused a quantity change: some night already has more units sold or held than the
 * new quantity (docs/decisions.md D2).
 */
export class QuantityBelowTaken extends Data.TaggedError("QuantityBelowTaken")<{}> {}

/** Columns a write may set; `undefined` = leave as is, `null` = store null (description only). */
export interface RoomFields {
  readonly title?: string | undefined
  readonly description?: string | null | undefined
  readonly price?: number | undefined
  readonly quantity?: number | undefined
}

const definedOnly = (fields: RoomFields) =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined))

/** A row of `select` below. */
interface RoomRow {
  readonly id: number
  readonly hotel_id: number
  readonly title: string
  readonly description: string | null
  readonly price: number
  readonly quantity: number
  readonly facilities: ReadonlyArray<{ readonly id: number; readonly title: string }>
}

/**
 * The lists' rows are `Room`s by the tables' own definitions (integer and NOT NULL columns, the facilities
 * built by `json_build_object` from theirs): built as they are (`true`: not validated field by field, which
 * for an availability search over a page of hotels was a sixth of its CPU). A single room is decoded.
 */
const toRooms = (rows: ReadonlyArray<RoomRow>): Array<Room> =>
  rows.map(
    (row) => new Room({ ...row, facilities: row.facilities.map((facility) => new Facility(facility, true)) }, true)
  )

export class RoomsRepo extends Effect.Service<RoomsRepo>()("server/RoomsRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const outbox = yield* Outbox
    const select = sql`SELECT r.id, r.hotel_id, r.title, r.description, r.price, r.quantity,
        COALESCE((
          SELECT json_agg(json_build_object('id', f.id, 'title', f.title) ORDER BY f.id)
          FROM rooms_facilities rf JOIN facilities f ON f.id = rf.facility_id
          WHERE rf.room_id = r.id
        ), '[]'::json) AS facilities
      FROM rooms r`

    /**
     * The hotel and the page of its rooms in one statement: no row when there is no such hotel (`None`),
     * one row of NULLs when it has no room on this page (`[]`). One round trip instead of two: each
     * statement costs the server about 100 µs of CPU (`npm run bench`).
     */
    const listByHotel = ({ hotel_id, limit, offset, title }: Page & { hotel_id: number; title?: string | undefined }) =>
      sql<RoomRow | { readonly [K in keyof RoomRow]: null }>`SELECT page.* FROM hotels h
        LEFT JOIN LATERAL (${select}
          WHERE ${where(sql, [sql`r.hotel_id = h.id`, title === undefined ? undefined : contains(sql, "r.title", title)])}
          ORDER BY r.id LIMIT ${limit} OFFSET ${offset}) page ON true
        WHERE h.id = ${hotel_id}`.pipe(
        Effect.map((rows) =>
          rows.length === 0
            ? Option.none()
            : Option.some(toRooms(rows.filter((row): row is RoomRow => row.id !== null)))
        )
      )
    const findById = SqlSchema.findOne({
      Request: Schema.Int,
      Result: Room,
      execute: (id) => sql`${select} WHERE r.id = ${id}`
    })
    const findHotelId = SqlSchema.findOne({
      Request: Schema.Int,
      Result: Schema.Struct({ hotel_id: Schema.Int }),
      execute: (id) => sql`SELECT hotel_id FROM rooms WHERE id = ${id}`
    })
    /**
     * The ids among these that name no facility, in the order given. The ones that exist are share-locked
     * until the transaction ends, so a concurrent delete cannot slip between this check and the link.
     */
    const missingFacilities = (ids: ReadonlyArray<number>) =>
      ids.length === 0
        ? Effect.succeed([])
        : sql<{ id: number }>`SELECT id FROM facilities WHERE id IN ${sql.in(ids)} FOR KEY SHARE`.pipe(
            Effect.map((rows) => {
              const found = new Set(rows.map((row) => row.id))
              return ids.filter((id) => !found.has(id))
            })
          )
    // a create and a delete record their outbox events in their transaction (docs/decisions.md D16); an
    // update's `room.updated`, with the before/after of what changed, is recorded by `RoomsService`
    const insert = (hotelId: number, fields: Required<RoomFields>) =>
      Effect.gen(function* () {
        const [row] = yield* sql<{ id: number }>`
          INSERT INTO rooms ${sql.insert({ hotel_id: hotelId, ...fields })} RETURNING id`
        yield* outbox.record("room.created", { ...fields, id: row!.id, hotel_id: hotelId })
        return row!.id
      }).pipe(sql.withTransaction)
    const update = (id: number, fields: RoomFields): Effect.Effect<void, SqlError> => {
      const set = definedOnly(fields)
      return Object.keys(set).length === 0
        ? Effect.void
        : Effect.asVoid(sql`UPDATE rooms SET ${sql.update(set)} WHERE id = ${id}`)
    }
    /** BR-3: the link set becomes exactly `facilityIds` (distinct ids that exist). */
    const setFacilities = (roomId: number, facilityIds: ReadonlyArray<number>) =>
      Effect.gen(function* () {
        yield* facilityIds.length === 0
          ? sql`DELETE FROM rooms_facilities WHERE room_id = ${roomId}`
          : sql`DELETE FROM rooms_facilities WHERE room_id = ${roomId} AND facility_id NOT IN ${sql.in(facilityIds)}`
        if (facilityIds.length > 0) {
          const links = facilityIds.map((facility_id) => ({ room_id: roomId, facility_id }))
          yield* sql`INSERT INTO rooms_facilities ${sql.insert(links)} ON CONFLICT DO NOTHING`
        }
      })
    /**
     * Its bookings, holds and facility links go with it (`ON DELETE CASCADE`); the bookings' and holds'
     * events are written by the delete's statement (`CascadeEvents.ts`) once the room is locked (no booking
     * or hold made in it meanwhile) and then its confirmed bookings and active holds (no cancel, release or
     * confirm under way: each reported once). Aborted by the database (a deadlock with a confirm):
     * `DeleteAborted`, which the service runs again.
     */
    const remove = (id: number) =>
      Effect.gen(function* () {
        yield* sql`SELECT id FROM rooms WHERE id = ${id} FOR UPDATE`
        yield* sql.unsafe(lockStaysSql("room_id = $1"), [id])
        const [row] = yield* sql<{ hotel_id: number }>`
          WITH r AS MATERIALIZED (SELECT id, hotel_id FROM rooms WHERE id = ${id}),
          ${sql.unsafe(cascadeEventParts("r", "room_deleted", false))},
          deleted AS (DELETE FROM rooms WHERE id = ${id} RETURNING hotel_id)
          SELECT hotel_id FROM deleted`
        if (row !== undefined) yield* outbox.record("room.deleted", { id, hotel_id: row.hotel_id })
      }).pipe(sql.withTransaction)

    return {
      listByHotel: (hotelId: number, query: Page & { readonly title?: string | undefined }) =>
        listByHotel({ hotel_id: hotelId, ...query }).pipe(Effect.orDie),
      findById: (id: number) => findById(id).pipe(Effect.orDie),
      findHotelId: (id: number) => findHotelId(id).pipe(Effect.orDie),
      missingFacilities: (ids: ReadonlyArray<number>) => missingFacilities(ids).pipe(Effect.orDie),
      insert: (hotelId: number, fields: Required<RoomFields>) => insert(hotelId, fields).pipe(Effect.orDie),
      update: (id: number, fields: RoomFields) =>
        update(id, fields).pipe(
          Effect.asVoid,
          Effect.catchTag("SqlError", (error) =>
            classifySqlError(error) === "InventoryExceeded" ? new QuantityBelowTaken() : Effect.die(error)
          )
        ),
      setFacilities: (roomId: number, facilityIds: ReadonlyArray<number>) =>
        setFacilities(roomId, facilityIds).pipe(Effect.orDie),
      remove: (id: number) => remove(id).pipe(Effect.asVoid, Effect.catchTag("SqlError", deleteFailed))
    } as const
  }),
  dependencies: [Outbox.Default]
}) {}

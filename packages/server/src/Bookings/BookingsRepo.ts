/**
 * The `bookings` table and the per-night inventory (`room_nights`) a booking reserves.
 * Writes keep `SqlError` in their error channel: the service decides what a refused write means
 * (the inventory's CHECK is a sold-out room, a deadlock is retried); reads turn it into a defect.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { Booking } from "@shum/domain/Bookings"
import { INT32 } from "@shum/domain/Common"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Option, Schema } from "effect"

/** `created_at` as docs/api.md §1.2 renders it: UTC with `Z`, microseconds only when non-zero. */
const COLUMNS = `id, room_id, user_id, date_from, date_to, price,
  regexp_replace(to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '\\.000000$', '') || 'Z'
    AS created_at`

/** Ids are `integer` columns: a larger number names nothing (and must not reach SQL, which would refuse it). */
const isId = (n: number) => Number.isInteger(n) && n >= INT32.minimum && n <= INT32.maximum

const Page = Schema.Struct({ limit: Schema.Int, offset: Schema.Int, userId: Schema.optional(Schema.Int) })

export interface RoomTerms {
  readonly price: number
  readonly quantity: number
}

export interface NewBooking {
  readonly roomId: number
  readonly userId: number
  readonly from: string
  readonly to: string
  readonly price: number
}

export class BookingsRepo extends Effect.Service<BookingsRepo>()("server/BookingsRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const columns = sql.unsafe(COLUMNS)

    const list = SqlSchema.findAll({
      Request: Page,
      Result: Booking,
      execute: ({ limit, offset, userId }) =>
        sql`SELECT ${columns} FROM bookings ${userId === undefined ? sql`` : sql`WHERE user_id = ${userId}`}
            ORDER BY date_from DESC, id DESC LIMIT ${limit} OFFSET ${offset}`
    })

    /**
     * The room's price and quantity, its row share-locked until the transaction ends: a concurrent change
     * of its quantity (which moves the capacity of its nights) waits for this booking, or this booking
     * for it, so the two never interleave.
     */
    const lockRoom = (roomId: number) =>
      isId(roomId)
        ? sql<RoomTerms>`SELECT price, quantity FROM rooms WHERE id = ${roomId} FOR SHARE`.pipe(
            Effect.map((rows) => Option.fromNullable(rows[0]))
          )
        : Effect.succeed(Option.none<RoomTerms>())

    /**
     * Locks the nights `from` … `to − 1` of the room in night order (creating those never booked yet,
     * with the room's quantity as capacity) and tells whether every one of them has a unit free.
     * `quantity` bounds the sale too: a night the original overbooked keeps a capacity above it.
     */
    const reserveNights = (roomId: number, from: string, to: string, quantity: number) =>
      Effect.gen(function* () {
        yield* sql`
          INSERT INTO room_nights (room_id, night, capacity)
          SELECT ${roomId}, ${from}::date + i, ${Math.max(quantity, 0)}
          FROM generate_series(0, ${to}::date - ${from}::date - 1) AS i
          ORDER BY i
          ON CONFLICT (room_id, night) DO NOTHING`
        const [row] = yield* sql<{ full: number }>`
          SELECT count(*) FILTER (WHERE n.sold >= LEAST(n.capacity, ${quantity}))::int AS full
          FROM (
            SELECT sold, capacity FROM room_nights
            WHERE room_id = ${roomId} AND night >= ${from}::date AND night < ${to}::date
            ORDER BY night
            FOR UPDATE
          ) n`
        return row?.full === 0
      })

    /** A booking row as the API shows it (`COLUMNS`), decoded; a row that does not decode is a defect. */
    const asBooking = Schema.decodeUnknown(Booking)

    /**
     * A whole booking in one statement, atomic on its own (no transaction around it): share-lock the room,
     * lock its existing nights of the stay in night order and check each has a unit free (`quantity` bounds
     * the sale, as in `reserveNights`), insert the booking; the inventory's triggers then create the missing
     * nights, take every night and their CHECK refuses an overbooking. One round trip instead of six, and the
     * nights stay locked only while PostgreSQL runs it and commits. `roomFound` false: no such room;
     * `booking` undefined: a night is sold out.
     */
    const book = (
      booking: Omit<NewBooking, "price">
    ): Effect.Effect<{ readonly roomFound: boolean; readonly booking: Booking | undefined }, SqlError> =>
      isId(booking.roomId)
        ? sql<{ rooms: number; id: number | null }>`
            WITH room AS (
              SELECT price, quantity FROM rooms WHERE id = ${booking.roomId} FOR SHARE
            ), nights AS MATERIALIZED (
              SELECT sold, capacity FROM room_nights
              WHERE room_id = ${booking.roomId} AND night >= ${booking.from}::date AND night < ${booking.to}::date
              ORDER BY night
              FOR UPDATE
            ), booked AS (
              INSERT INTO bookings (room_id, user_id, date_from, date_to, price)
              SELECT ${booking.roomId}, ${booking.userId}, ${booking.from}::date, ${booking.to}::date,
                     room.price * (${booking.to}::date - ${booking.from}::date)
              FROM room
              WHERE NOT EXISTS (SELECT 1 FROM nights n WHERE n.sold >= LEAST(n.capacity, room.quantity))
              RETURNING *
            )
            SELECT (SELECT count(*) FROM room)::int AS rooms, ${columns}
            FROM (SELECT) AS one LEFT JOIN booked ON true`.pipe(
            Effect.flatMap(([row]): Effect.Effect<{ roomFound: boolean; booking: Booking | undefined }> =>
              row === undefined || row.id === null
                ? Effect.succeed({ roomFound: (row?.rooms ?? 0) > 0, booking: undefined })
                : Effect.map(Effect.orDie(asBooking(row)), (created) => ({ roomFound: true, booking: created }))
            )
          )
        : Effect.succeed({ roomFound: false, booking: undefined })

    /** The inventory's triggers take the nights; their CHECK refuses an overbooking. */
    const insert = (booking: NewBooking) =>
      sql`
        INSERT INTO bookings (room_id, user_id, date_from, date_to, price)
        VALUES (${booking.roomId}, ${booking.userId}, ${booking.from}, ${booking.to}, ${booking.price})
        RETURNING ${columns}`.pipe(Effect.flatMap((rows) => Effect.orDie(asBooking(rows[0]))))

    const findById = SqlSchema.findOne({
      Request: Schema.Int,
      Result: Booking,
      execute: (bookingId) => sql`SELECT ${columns} FROM bookings WHERE id = ${bookingId}`
    })

    const findOwner = (bookingId: number) =>
      isId(bookingId)
        ? sql<{ user_id: number }>`SELECT user_id FROM bookings WHERE id = ${bookingId}`.pipe(
            Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (row) => row.user_id))
          )
        : Effect.succeed(Option.none<number>())

    /** Whether the booking was still there. The inventory's triggers free its nights in the same statement. */
    const remove = (bookingId: number) =>
      sql`DELETE FROM bookings WHERE id = ${bookingId} RETURNING id`.pipe(Effect.map((rows) => rows.length > 0))

    return {
      /** The `Idempotency-Key` path's transaction: the key's claim and the booking commit or roll back together. */
      withTransaction: sql.withTransaction,
      list: (page: typeof Page.Type) => list(page).pipe(Effect.orDie),
      lockRoom,
      reserveNights,
      insert,
      book,
      findOwner: (bookingId: number) => findOwner(bookingId).pipe(Effect.orDie),
      /** The booking, if there is one with this id (an id outside `integer`'s range names none). */
      findById: (bookingId: number) =>
        isId(bookingId) ? findById(bookingId).pipe(Effect.orDie) : Effect.succeed(Option.none<Booking>()),
      remove: (bookingId: number) => remove(bookingId).pipe(Effect.orDie)
    } as const
  })
}) {}

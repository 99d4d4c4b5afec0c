/**
 * The `bookings` table and the per-night inventory (`room_nights`) a booking takes.
 * A booking is written in one place, the database function `book_stay` (migration 0007): one statement with or
 * without an `Idempotency-Key` (its outbox event written by the same statement, D16). This repository is where its refusals become typed answers: the outcomes the
 * function names, the inventory's CHECK (a night filled concurrently: sold out) and an aborted write
 * (`BookingWriteAborted`, which may simply be run again); any other database failure is a defect. Reads turn
 * every failure into a defect.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { Booking, BookingCreated, BookingStatus } from "@shum/domain/Bookings"
import { INT32 } from "@shum/domain/Common"
import type { SqlError } from "@effect/sql/SqlError"
import { PgPool, runDirect } from "@shum/infra/DirectStatements"
import { outboxInsertSql } from "@shum/infra/Outbox"
import { Data, Effect, Option, Schema } from "effect"
import type { Unauthorized } from "@shum/domain/Errors"
import type { UncheckedSession } from "@shum/domain/Security"
import { inStatement } from "../Auth/DeferredSession.js"
import { IDEMPOTENCY_TTL } from "./IdempotencyKeys.js"
import {
  type DatesRefusal,
  type KeyedRequest,
  type StayRefusal,
  stayRefusalOrDie,
  type StayRequest,
  stayWriteFailed
} from "./StayWrites.js"

/** `created_at` as docs/api.md §1.2 renders it (`api_timestamp`, migration 0007): UTC with `Z`, microseconds only when non-zero. */
const COLUMNS = `id, room_id, user_id, date_from, date_to, price, api_timestamp(created_at) AS created_at, status`

/**
 * The booking's outbox event (docs/decisions.md D16), written by the same statement as the booking's insert
 * or delete — so in its transaction, with no extra round trip: `data` is the booking as stored
 * (`booking_json`) plus its hotel. `booking` is the JSON expression over `source`, written when `when` holds.
 */
const bookingEvent = (type: string, booking: string, when: string, source: string) =>
  outboxInsertSql({
    type,
    id: `${booking}->>'id'`,
    hotelId: "rm.hotel_id",
    data: `${booking} || jsonb_build_object('hotel_id', rm.hotel_id)`,
    from: `${source} JOIN rooms rm ON rm.id = (${booking}->>'room_id')::integer`,
    where: when
  })

/** Ids are `integer` columns: a larger number names nothing (and must not reach SQL, which would refuse it). */
const isId = (n: number) => Number.isInteger(n) && n >= INT32.minimum && n <= INT32.maximum

const Page = Schema.Struct({
  limit: Schema.Int,
  offset: Schema.Int,
  userId: Schema.optional(Schema.Int),
  status: BookingStatus
})

export type BookRequest = StayRequest

/** What `book` did, in the order `book_stay` judges. */
export type BookOutcome =
  | { readonly _tag: "Booked"; readonly answer: BookingCreated }
  /** The key's request was carried out before: its stored answer, and the booking's id kept with it. */
  | { readonly _tag: "Replayed"; readonly stored: unknown; readonly bookingId: number | null }
  | StayRefusal

/** Who asks for a command on a booking (docs/decisions.md D1: the owner, or an admin). */
export interface CommandCaller {
  readonly bookingId: number
  readonly userId: number
  readonly admin: boolean
  readonly idempotency?: KeyedRequest | undefined
}

/** What a command on a booking did (`cancel_booking`, `change_booking_dates`, migration 0010), in their order. */
export type CommandOutcome =
  /** `unchanged`: a change of dates to the dates it had (nothing moved). */
  | { readonly _tag: "Done"; readonly booking: Booking; readonly unchanged?: boolean }
  /** The key's request was carried out before: its stored answer (a booking). */
  | { readonly _tag: "Replayed"; readonly booking: Booking }
  | { readonly _tag: "BookingNotFound" }
  | { readonly _tag: "NotYours" }
  | { readonly _tag: "AlreadyCancelled" }
  | DatesRefusal

/** The database aborted the write (a deadlock, a serialization failure): nothing happened; it may be run again. */
export class BookingWriteAborted extends Data.TaggedError("BookingWriteAborted")<{ readonly cause: SqlError }> {}

/**
 * `bookStatement` with a session, as one fixed text run on the pool directly (`DirectStatements.ts`): the same
 * statement, its parameters in this order — jti, version, room, user, from, to, today, key, hash, key TTL.
 */
const BOOK_IN_SESSION = `
  WITH r AS MATERIALIZED (
    SELECT outcome, answer, kept_booking_id, full_nights
    FROM book_stay_in_session($1::text, $2::bigint, $3::integer, $4::integer, $5::date, $6::date, $7::date,
                              $8::varchar, $9::text, $10::interval)
  ), event AS (${bookingEvent("booking.created", "r.answer->'booking'", "r.outcome = 'booked'", "r")})
  SELECT outcome, answer, kept_booking_id, full_nights::text[] AS full_nights FROM r`

/**
 * `book_stay`'s answer as the model, not decoded again field by field (≈ 10 µs a booking, bench/README.md "Issue
 * 18 and 19: the write path"): it is the function's own JSON (`booking_json`), and `HttpApi` validates every field
 * as it encodes the response (in the model's field order, whatever the order of the JSON's keys), so a wrong one
 * is still a 500, never sent.
 */
const createdOf = (answer: unknown): BookingCreated => {
  const created = answer as BookingCreated
  return new BookingCreated({ ...created, booking: new Booking(created.booking, true) }, true)
}

interface BookRow {
  readonly outcome: string
  readonly answer: unknown
  readonly kept_booking_id: number | null
  readonly full_nights: ReadonlyArray<string> | null
}

export class BookingsRepo extends Effect.Service<BookingsRepo>()("server/BookingsRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const pool = yield* PgPool
    const columns = sql.unsafe(COLUMNS)

    const list = SqlSchema.findAll({
      Request: Page,
      Result: Booking,
      execute: ({ limit, offset, status, userId }) =>
        sql`SELECT ${columns} FROM bookings
            WHERE status = ${status} ${userId === undefined ? sql`` : sql`AND user_id = ${userId}`}
            ORDER BY date_from DESC, id DESC LIMIT ${limit} OFFSET ${offset}`
    })

    /** The database's refusal of a write: aborted (may be run again), a night filled meanwhile, or a defect. */
    const failed = stayWriteFailed((cause) => new BookingWriteAborted({ cause }))

    const outcomeOf = (row: BookRow | undefined): Effect.Effect<BookOutcome> => {
      switch (row?.outcome) {
        case "booked":
          return Effect.succeed({ _tag: "Booked", answer: createdOf(row.answer) })
        case "replay":
          return Effect.succeed({ _tag: "Replayed", stored: row.answer, bookingId: row.kept_booking_id })
        default:
          return stayRefusalOrDie(row, "book_stay")
      }
    }

    /**
     * `POST /bookings`, one round trip (`book_stay`, migration 0007): claim the key, share-lock the room, judge
     * the dates, lock the nights in night order and check them (`take_nights`), insert the booking (its trigger
     * takes the nights; `room_nights_sold_check` refuses an overbooking), record the key's answer. With a
     * session, `book_stay_in_session` (migration 0014) checks it first, in the same statement (D13):
     * `BOOK_IN_SESSION`.
     */
    const bookStatement = (request: BookRequest) =>
      sql<BookRow>`
        WITH r AS MATERIALIZED (
          SELECT outcome, answer, kept_booking_id, full_nights
          FROM book_stay(${isId(request.roomId) ? request.roomId : null}::integer, ${request.userId}::integer,
                         ${request.from}::date, ${request.to}::date, ${request.today}::date,
                         ${request.idempotency?.key ?? null}::varchar, ${request.idempotency?.hash ?? null}::text,
                         ${IDEMPOTENCY_TTL}::interval)
        ), event AS (${sql.unsafe(bookingEvent("booking.created", "r.answer->'booking'", "r.outcome = 'booked'", "r"))})
        SELECT outcome, answer, kept_booking_id, full_nights::text[] AS full_nights FROM r`

    /** A booking for a user already authenticated (tests, tools): `book_stay` alone. */
    const book = (request: BookRequest): Effect.Effect<BookOutcome, BookingWriteAborted> =>
      bookStatement(request).pipe(
        Effect.flatMap((rows) => outcomeOf(rows[0])),
        Effect.catchTag("SqlError", failed)
      )

    /**
     * `POST /bookings` for a session no lookup checked yet (`DeferredAuthentication`, docs/decisions.md D13): the
     * user, the token's revocation and its version are checked by the booking's own statement, first; refused,
     * the middleware's 401 and nothing written.
     */
    const bookInSession = (
      session: UncheckedSession,
      request: Omit<BookRequest, "userId">
    ): Effect.Effect<BookOutcome, BookingWriteAborted | Unauthorized> =>
      inStatement(session, (caller) =>
        runDirect<BookRow>(pool, BOOK_IN_SESSION, [
          caller.jti,
          caller.version,
          isId(request.roomId) ? request.roomId : null,
          caller.userId,
          request.from,
          request.to,
          request.today,
          request.idempotency?.key ?? null,
          request.idempotency?.hash ?? null,
          IDEMPOTENCY_TTL
        ])
      ).pipe(
        Effect.flatMap((rows) => outcomeOf(rows[0])),
        Effect.catchTag("SqlError", failed)
      )

    const decodeBooking = Schema.decodeUnknown(Booking)

    const commandOutcomeOf = (
      row:
        | { readonly outcome: string; readonly answer: unknown; readonly full_nights?: ReadonlyArray<string> | null }
        | undefined
    ): Effect.Effect<CommandOutcome> => {
      switch (row?.outcome) {
        case "cancelled":
        case "changed":
        case "unchanged":
          return Effect.map(
            Effect.orDie(decodeBooking(row.answer)),
            (booking) => ({ _tag: "Done", booking, unchanged: row.outcome === "unchanged" }) as const
          )
        case "replay":
          return Effect.map(
            Effect.orDie(decodeBooking(row.answer)),
            (booking) => ({ _tag: "Replayed", booking }) as const
          )
        case "not_found":
          return Effect.succeed({ _tag: "BookingNotFound" })
        case "forbidden":
          return Effect.succeed({ _tag: "NotYours" })
        case "already_cancelled":
          return Effect.succeed({ _tag: "AlreadyCancelled" })
        default:
          return Effect.flatMap(stayRefusalOrDie(row, "a booking command"), (refusal) =>
            // `no_room` is not a command's answer
            refusal._tag === "RoomNotFound"
              ? Effect.dieMessage(`a booking command answered an unknown outcome: ${row?.outcome}`)
              : Effect.succeed(refusal)
          )
      }
    }

    /**
     * Cancels a booking in one statement (`cancel_booking`): the key, the booking locked, the rights, its state;
     * it is kept as `cancelled` and the triggers release its nights. `cancelledIsMissing`: a cancelled booking
     * is `BookingNotFound` (as `DELETE` answers, the original having deleted it).
     */
    const cancel = (
      request: CommandCaller & { readonly cancelledIsMissing: boolean }
    ): Effect.Effect<CommandOutcome, BookingWriteAborted> =>
      sql<{ outcome: string; answer: unknown }>`
        WITH r AS MATERIALIZED (
          SELECT outcome, answer
          FROM cancel_booking(${isId(request.bookingId) ? request.bookingId : null}::integer, ${request.userId}::integer,
                              ${request.admin}::boolean, ${request.cancelledIsMissing}::boolean,
                              ${request.idempotency?.key ?? null}::varchar, ${request.idempotency?.hash ?? null}::text,
                              ${IDEMPOTENCY_TTL}::interval)
        ), event AS (${sql.unsafe(bookingEvent("booking.cancelled", "r.answer", "r.outcome = 'cancelled'", "r"))})
        SELECT outcome, answer FROM r`.pipe(
        Effect.flatMap((rows) => commandOutcomeOf(rows[0])),
        Effect.catchTag("SqlError", failed)
      )

    /**
     * Moves a booking's stay in one statement (`change_booking_dates`): the key, the booking locked, the rights,
     * its state, the dates, the new nights checked by `take_nights` (its own nights kept out, all locked in one
     * night order), the price, then the update whose triggers release the old nights and take the new.
     */
    const changeDates = (
      request: CommandCaller & { readonly from: string; readonly to: string; readonly today: string }
    ): Effect.Effect<CommandOutcome, BookingWriteAborted> =>
      sql<{ outcome: string; answer: unknown; full_nights: ReadonlyArray<string> | null }>`
        WITH r AS MATERIALIZED (
          SELECT outcome, answer, full_nights
          FROM change_booking_dates(${isId(request.bookingId) ? request.bookingId : null}::integer,
                                  ${request.userId}::integer, ${request.admin}::boolean, ${request.from}::date,
                                  ${request.to}::date, ${request.today}::date, ${request.idempotency?.key ?? null}::varchar,
                                  ${request.idempotency?.hash ?? null}::text, ${IDEMPOTENCY_TTL}::interval)
        ), event AS (${sql.unsafe(bookingEvent("booking.dates_changed", "r.answer", "r.outcome = 'changed'", "r"))})
        SELECT outcome, answer, full_nights::text[] AS full_nights FROM r`.pipe(
        Effect.flatMap((rows) => commandOutcomeOf(rows[0])),
        Effect.catchTag("SqlError", failed)
      )

    const findById = SqlSchema.findOne({
      Request: Schema.Int,
      Result: Booking,
      execute: (bookingId) => sql`SELECT ${columns} FROM bookings WHERE id = ${bookingId}`
    })

    return {
      list: (page: typeof Page.Type) => list(page).pipe(Effect.orDie),
      book,
      bookInSession,
      cancel,
      changeDates,
      /** The booking, if there is one with this id (an id outside `integer`'s range names none). */
      findById: (bookingId: number) =>
        isId(bookingId) ? findById(bookingId).pipe(Effect.orDie) : Effect.succeed(Option.none<Booking>())
    } as const
  })
}) {}

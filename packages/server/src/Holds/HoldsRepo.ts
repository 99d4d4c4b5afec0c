/**
 * The `holds` table (docs/data.md §1.13b, BR-13). Placing and confirming a hold are one statement each, the
 * database functions of migration `0008` (`hold_place`, judged as `book_stay` judges a booking, and
 * `hold_confirm`, which since `0012` writes no night: docs/data.md BR-13), so the locks are held only while PostgreSQL runs them. This repository is where their
 * refusals become typed answers: the outcomes the functions name, the inventory's CHECK (a night filled
 * concurrently: sold out) and an aborted write (`HoldWriteAborted`, which may simply be run again); any other
 * database failure is a defect. Reads turn every failure into a defect.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Booking } from "@shum/domain/Bookings"
import { INT32 } from "@shum/domain/Common"
import { Hold } from "@shum/domain/Holds"
import { PgPool, runDirect } from "@shum/infra/DirectStatements"
import { outboxInsertSql } from "@shum/infra/Outbox"
import { classifySqlError } from "@shum/infra/SqlFailures"
import { Data, Effect, Option, Schema } from "effect"
import type { Unauthorized } from "@shum/domain/Errors"
import type { UncheckedSession } from "@shum/domain/Security"
import type * as Statement from "@effect/sql/Statement"
import { inStatement } from "../Auth/DeferredSession.js"
import { IDEMPOTENCY_TTL } from "../Bookings/IdempotencyKeys.js"
import { type StayRefusal, stayRefusalOrDie, type StayRequest, stayWriteFailed } from "../Bookings/StayWrites.js"

/** Ids are `integer` columns: a larger number names nothing. */
const isId = (n: number) => Number.isInteger(n) && n >= INT32.minimum && n <= INT32.maximum

export interface PlaceRequest extends StayRequest {
  readonly ttlSeconds: number
  readonly maxActive: number
}

/** What `place` did, in the order `hold_place` judges. */
export type PlaceOutcome =
  | { readonly _tag: "Held"; readonly hold: Hold }
  /** The key's request was carried out before: its stored answer. */
  | { readonly _tag: "Replayed"; readonly stored: unknown }
  | { readonly _tag: "TooMany" }
  | StayRefusal

export type ConfirmOutcome =
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "Released" }
  /** `now`: this confirm found it past `expires_at` and recorded the expiry. */
  | { readonly _tag: "Expired"; readonly now: boolean }
  /** `now`: this confirm made the booking; otherwise an earlier one did (`booking` none: deleted since). */
  | { readonly _tag: "Confirmed"; readonly booking: Option.Option<Booking>; readonly now: boolean }

/** The database aborted the write (a deadlock, a serialization failure): nothing happened; it may be run again. */
export class HoldWriteAborted extends Data.TaggedError("HoldWriteAborted")<{ readonly cause: SqlError }> {}

const decodeHold = Schema.decodeUnknown(Hold)

/**
 * A hold or a booking as a statement of the hold's wrote it (`hold_json`, `booking_json`), as the model without
 * decoding it again field by field (≈ 10 µs a request, bench/README.md "Issue 18 and 19: the write path"): `HttpApi`
 * validates every field as it encodes the response (in the model's field order), so a wrong one is still a 500.
 */
const holdOf = (json: unknown): Hold => new Hold(json as Hold, true)
const bookingOf = (json: unknown): Booking => new Booking(json as Booking, true)

/** A confirm's SQL failure: aborted → `HoldWriteAborted`, anything else a defect. */
const aborted = (error: SqlError) =>
  classifySqlError(error) === "Aborted" ? Effect.fail(new HoldWriteAborted({ cause: error })) : Effect.die(error)

/**
 * A hold's outbox event (docs/decisions.md D16), written by the statement that changes the hold — so in its
 * transaction — over `from`, which joins `h` (the hold's row as the statement began: id, room and dates do not change)
 * and `rm` (its room, for the hotel); written when `where` holds. `extra` adds fields to `data`.
 */
const holdEvent = (type: string, from: string, where: string, extra = "'{}'::jsonb") =>
  outboxInsertSql({
    type,
    id: "h.id",
    hotelId: "rm.hotel_id",
    data:
      "jsonb_build_object('id', h.id, 'hotel_id', rm.hotel_id, 'room_id', h.room_id, 'user_id', h.user_id, " +
      `'date_from', h.date_from, 'date_to', h.date_to, 'price', h.price) || ${extra}`,
    from: `${from} JOIN rooms rm ON rm.id = h.room_id`,
    where
  })

// the new hold is not visible to the statement's other parts: its event is made of `hold_place`'s answer
const PLACED = outboxInsertSql({
  type: "hold.created",
  id: "r.answer->>'id'",
  hotelId: "rm.hotel_id",
  data: "r.answer || jsonb_build_object('hotel_id', rm.hotel_id)",
  from: "r JOIN rooms rm ON rm.id = (r.answer->>'room_id')::integer",
  where: "r.outcome = 'held'"
})
const CONFIRM_FROM = "r, p JOIN holds h ON h.id = p.hold_id"
const CONFIRMED = holdEvent(
  "hold.confirmed",
  CONFIRM_FROM,
  "r.outcome = 'confirmed_now'",
  "jsonb_build_object('status', 'confirmed', 'booking_id', (r.answer->>'id')::integer)"
)
const CONFIRMED_BOOKING = outboxInsertSql({
  type: "booking.created",
  id: "r.answer->>'id'",
  hotelId: "rm.hotel_id",
  data: "r.answer || jsonb_build_object('hotel_id', rm.hotel_id, 'hold_id', p.hold_id)",
  from: `${CONFIRM_FROM} JOIN rooms rm ON rm.id = h.room_id`,
  where: "r.outcome = 'confirmed_now'"
})
const EXPIRED_AT_CONFIRM = holdEvent(
  "hold.expired",
  CONFIRM_FROM,
  "r.outcome = 'expired_now'",
  "jsonb_build_object('status', 'expired')"
)
const RELEASED = holdEvent(
  "hold.released",
  "u JOIN holds h ON h.id = u.id",
  "u.status = 'released'",
  "jsonb_build_object('status', 'released')"
)
const EXPIRED_AT_RELEASE = holdEvent(
  "hold.expired",
  "u JOIN holds h ON h.id = u.id",
  "u.status = 'expired'",
  "jsonb_build_object('status', 'expired')"
)

/**
 * `placeStatement` with a session, as one fixed text run on the pool directly (`DirectStatements.ts`): parameters
 * jti, version, room, user, from, to, today, TTL seconds, most active, key, hash, key TTL.
 */
const PLACE_IN_SESSION = `
  WITH r AS MATERIALIZED (
    SELECT outcome, answer, full_nights
    FROM hold_place_in_session($1::text, $2::bigint, $3::integer, $4::integer, $5::date, $6::date, $7::date,
                               $8::integer, $9::integer, $10::varchar, $11::text, $12::interval)
  ), event AS (${PLACED})
  SELECT outcome, answer, full_nights::text[] AS full_nights FROM r`

/** `confirmStatement` over `hold_confirm_in_session`, likewise: parameters hold, jti, version, user. */
const CONFIRM_IN_SESSION = `
  WITH p AS NOT MATERIALIZED (SELECT $1::integer AS hold_id),
  r AS MATERIALIZED (SELECT outcome, answer FROM hold_confirm_in_session($2::text, $3::bigint, $1::integer, $4::integer)),
  confirmed AS (${CONFIRMED}),
  booked AS (${CONFIRMED_BOOKING}),
  expired AS (${EXPIRED_AT_CONFIRM})
  SELECT outcome, answer FROM r`

interface PlaceRow {
  readonly outcome: string
  readonly answer: unknown
  readonly full_nights: ReadonlyArray<string> | null
}

export class HoldsRepo extends Effect.Service<HoldsRepo>()("server/HoldsRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const pool = yield* PgPool

    const outcomeOf = (
      row:
        | { readonly outcome: string; readonly answer: unknown; readonly full_nights: ReadonlyArray<string> | null }
        | undefined
    ): Effect.Effect<PlaceOutcome> => {
      switch (row?.outcome) {
        case "held":
          return Effect.succeed({ _tag: "Held", hold: holdOf(row.answer) })
        case "replay":
          return Effect.succeed({ _tag: "Replayed", stored: row.answer })
        case "too_many":
          return Effect.succeed({ _tag: "TooMany" })
        default:
          return stayRefusalOrDie(row, "hold_place")
      }
    }

    /**
     * `POST /holds`, one round trip (`hold_place`). With a session, `hold_place_in_session` (migration 0018)
     * checks it first, in the same statement (D13): `PLACE_IN_SESSION`.
     */
    const placeStatement = (request: PlaceRequest) =>
      sql<PlaceRow>`
        WITH r AS MATERIALIZED (
          SELECT outcome, answer, full_nights
          FROM hold_place(${isId(request.roomId) ? request.roomId : null}::integer, ${request.userId}::integer,
                          ${request.from}::date, ${request.to}::date, ${request.today}::date,
                          ${request.ttlSeconds}::integer, ${request.maxActive}::integer,
                          ${request.idempotency?.key ?? null}::varchar, ${request.idempotency?.hash ?? null}::text,
                          ${IDEMPOTENCY_TTL}::interval)
        ), event AS (${sql.unsafe(PLACED)})
        SELECT outcome, answer, full_nights::text[] AS full_nights FROM r`

    const placeFailed = stayWriteFailed((cause) => new HoldWriteAborted({ cause }))

    /** A hold for a user already authenticated (tests, tools): `hold_place` alone. */
    const place = (request: PlaceRequest): Effect.Effect<PlaceOutcome, HoldWriteAborted> =>
      placeStatement(request).pipe(
        Effect.flatMap((rows) => outcomeOf(rows[0])),
        Effect.catchTag("SqlError", placeFailed)
      )

    /**
     * `POST /holds` for a session no lookup checked yet (`DeferredAuthentication`, docs/decisions.md D13): the
     * statement checks it first; refused, the middleware's 401 and nothing written.
     */
    const placeInSession = (
      session: UncheckedSession,
      request: Omit<PlaceRequest, "userId">
    ): Effect.Effect<PlaceOutcome, HoldWriteAborted | Unauthorized> =>
      inStatement(session, (caller) =>
        runDirect<PlaceRow>(pool, PLACE_IN_SESSION, [
          caller.jti,
          caller.version,
          isId(request.roomId) ? request.roomId : null,
          caller.userId,
          request.from,
          request.to,
          request.today,
          request.ttlSeconds,
          request.maxActive,
          request.idempotency?.key ?? null,
          request.idempotency?.hash ?? null,
          IDEMPOTENCY_TTL
        ])
      ).pipe(
        Effect.flatMap((rows) => outcomeOf(rows[0])),
        Effect.catchTag("SqlError", placeFailed)
      )

    /** A confirm's row as its outcome (`hold_confirm`'s, in its order). */
    const confirmOutcomeOf = (
      row: { readonly outcome: string; readonly answer: unknown } | undefined
    ): Effect.Effect<ConfirmOutcome> => {
      const booking = () =>
        row?.answer === null || row?.answer === undefined
          ? Effect.succeed(Option.none<Booking>())
          : Effect.succeed(Option.some(bookingOf(row.answer)))
      switch (row?.outcome) {
        case "confirmed_now":
          return Effect.map(booking(), (found) => ({ _tag: "Confirmed", booking: found, now: true }) as const)
        // answered again: its booking, unless cancelled since (docs/data.md BR-14), as a booking's replay
        case "confirmed":
          return Effect.map(
            booking(),
            (found) =>
              ({
                _tag: "Confirmed",
                booking: Option.filter(found, (b) => b.status === "confirmed"),
                now: false
              }) as const
          )
        case "expired_now":
          return Effect.succeed({ _tag: "Expired", now: true })
        case "expired":
          return Effect.succeed({ _tag: "Expired", now: false })
        case "released":
          return Effect.succeed({ _tag: "Released" })
        case "not_found":
          return Effect.succeed({ _tag: "NotFound" })
        default:
          return Effect.dieMessage(`hold_confirm answered an unknown outcome: ${String(row?.outcome)}`)
      }
    }

    /**
     * `POST /holds/{id}/confirm`, one round trip: `call` is `hold_confirm(...)`; the events are written over its
     * answer. `CONFIRM_IN_SESSION` is the same over `hold_confirm_in_session(...)` (migration 0018), which checks
     * the session first (D13).
     */
    const confirmStatement = (holdId: number, call: Statement.Fragment) =>
      sql<{ outcome: string; answer: unknown }>`
        WITH p AS NOT MATERIALIZED (SELECT ${holdId}::integer AS hold_id),
        r AS MATERIALIZED (SELECT outcome, answer FROM ${call}),
        confirmed AS (${sql.unsafe(CONFIRMED)}),
        booked AS (${sql.unsafe(CONFIRMED_BOOKING)}),
        expired AS (${sql.unsafe(EXPIRED_AT_CONFIRM)})
        SELECT outcome, answer FROM r`

    /** A confirm for a user already authenticated (tests, tools): `hold_confirm` alone. */
    const confirm = (
      holdId: number,
      userId: number,
      admin: boolean
    ): Effect.Effect<ConfirmOutcome, HoldWriteAborted> =>
      isId(holdId)
        ? confirmStatement(holdId, sql`hold_confirm(${holdId}::integer, ${userId}::integer, ${admin}::boolean)`).pipe(
            Effect.catchTag("SqlError", aborted),
            Effect.flatMap(([row]) => confirmOutcomeOf(row))
          )
        : Effect.succeed({ _tag: "NotFound" })

    /**
     * `POST /holds/{id}/confirm` for a session no lookup checked yet (docs/decisions.md D13): the statement checks
     * it first and reads the caller's role itself; refused, the middleware's 401 and nothing written. An id
     * outside `integer` names no hold: answered without a statement (the session then checked before the answer).
     */
    const confirmInSession = (
      session: UncheckedSession,
      holdId: number
    ): Effect.Effect<ConfirmOutcome, HoldWriteAborted | Unauthorized> =>
      isId(holdId)
        ? inStatement(session, (caller) =>
            runDirect<{ outcome: string; answer: unknown }>(pool, CONFIRM_IN_SESSION, [
              holdId,
              caller.jti,
              caller.version,
              caller.userId
            ])
          ).pipe(
            Effect.catchTag("SqlError", aborted),
            Effect.flatMap(([row]) => confirmOutcomeOf(row))
          )
        : Effect.succeed({ _tag: "NotFound" })

    const asHold = (rows: ReadonlyArray<{ readonly hold: unknown }>) =>
      rows[0] === undefined ? Effect.succeed(Option.none<Hold>()) : Effect.map(decodeHold(rows[0].hold), Option.some)

    /** The hold as the API shows it (`hold_json`: an active one past `expires_at` reads `expired`). */
    const findById = (holdId: number) =>
      isId(holdId)
        ? sql<{ hold: unknown }>`SELECT hold_json(h) AS hold FROM holds h WHERE h.id = ${holdId}`.pipe(
            Effect.flatMap(asHold),
            Effect.orDie
          )
        : Effect.succeed(Option.none<Hold>())

    /**
     * Releases the hold if it is still active (`expired` if its time had passed): its trigger gives the nights
     * back, locked in night order. `None`: it was not active (the caller reads it again).
     */
    const release = (holdId: number) =>
      sql<{ hold: unknown }>`
        WITH u AS (
          UPDATE holds h SET status = CASE WHEN h.expires_at <= now() THEN 'expired' ELSE 'released' END
          WHERE h.id = ${holdId} AND h.status = 'active'
          RETURNING h.id, h.status, hold_json(h) AS hold
        ),
        released AS (${sql.unsafe(RELEASED)}),
        expired AS (${sql.unsafe(EXPIRED_AT_RELEASE)})
        SELECT hold FROM u`.pipe(Effect.flatMap(asHold), Effect.orDie)

    return { place, placeInSession, confirm, confirmInSession, findById, release } as const
  })
}) {}

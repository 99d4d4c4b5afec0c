/**
 * Bookings (docs/api.md §8.7, docs/data.md BR-4..BR-8) with D1's rights and D2's guarantees.
 *
 * A booking share-locks the room (404), checks the dates (400), locks the stay's nights in night order and
 * checks each has a unit free (409), and inserts the booking — the inventory's triggers count it and its
 * CHECK is the database's own refusal to overbook. Without an `Idempotency-Key` all of it is one SQL
 * statement (`BookingsRepo.book`: one round trip, the nights locked only while it runs); with one, it is a
 * short READ COMMITTED transaction that first claims the key. Row locks serialise exactly the requests that
 * compete for the same nights; no retries are needed for correctness (a deadlock, which the fixed lock
 * order rules out, would still be retried).
 */
import type { SqlError } from "@effect/sql/SqlError"
import { type Booking, BookingCreated, type BookingIn } from "@shum/domain/Bookings"
import { INT32, pageOf } from "@shum/domain/Common"
import { Forbidden, InvalidDateRange, NotFound, RoomUnavailable, ValidationError } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { isAdmin, type AuthenticatedUser } from "@shum/domain/Security"
import { DateTime, Effect, Layer, Option, Schema } from "effect"
import { Metrics } from "../Metrics.js"
import { IdempotencyKeys, requestHash } from "./IdempotencyKeys.js"
import { INVENTORY_CONSTRAINT } from "./InventoryCheck.js"
import { BookingsRepo } from "./BookingsRepo.js"
import { StayLimits } from "./StayLimits.js"

const DAY_MS = 86_400_000

const nightsBetween = (from: string, to: string) => Math.round((Date.parse(to) - Date.parse(from)) / DAY_MS)

const pgCode = (error: SqlError): string | undefined => (error.cause as { code?: string } | undefined)?.code

/** The inventory's CHECK refused the booking: the room is sold out on some night. */
const isSoldOutViolation = (error: SqlError): boolean =>
  pgCode(error) === "23514" && (error.cause as { constraint?: string } | undefined)?.constraint === INVENTORY_CONSTRAINT

/** numeric_value_out_of_range: in a booking, only its total (`price` × nights) can overflow its column. */
const isTotalTooLarge = (error: SqlError): boolean => pgCode(error) === "22003"

/** The largest total a booking holds (`bookings.price` is an `integer`). */
const MAX_TOTAL = INT32.maximum

const totalTooLarge = (body: BookingIn) =>
  new ValidationError({
    detail: [
      {
        type: "value_error",
        loc: ["body", "date_to"],
        msg: `Value error, the stay's total price (the room's price × nights) is above ${MAX_TOTAL}, the most a booking can hold`,
        input: body.date_to
      }
    ]
  })

/** deadlock_detected, serialization_failure */
const isTransient = (error: SqlError) => pgCode(error) === "40P01" || pgCode(error) === "40001"

const soldOut = () => new RoomUnavailable({ detail: Messages.roomSoldOut })

const keyReused = (key: string) =>
  new ValidationError({
    detail: [
      {
        type: "idempotency_key_reused",
        loc: ["header", "idempotency-key"],
        msg: "This Idempotency-Key was already used for a different request",
        input: key
      }
    ]
  })

export class BookingsService extends Effect.Service<BookingsService>()("server/BookingsService", {
  effect: Effect.gen(function* () {
    const repo = yield* BookingsRepo
    const keys = yield* IdempotencyKeys
    const { counters } = yield* Metrics
    const limits = yield* StayLimits

    const todayUtc = Effect.map(DateTime.now, DateTime.formatIsoDateUtc)

    const roomNotFound = (roomId: number) => new NotFound({ detail: Messages.entityNotFound("Номер", roomId) })

    /** 400 for a stay that is empty, reversed or starts in the past (UTC); checked after the room (404). */
    const stayProblem = (body: BookingIn) =>
      Effect.map(todayUtc, (today) =>
        body.date_from >= body.date_to
          ? new InvalidDateRange({ detail: Messages.stayInvalid })
          : body.date_from < today
            ? new InvalidDateRange({ detail: Messages.stayInPast })
            : undefined
      )

    /** Without an `Idempotency-Key`: the booking is one statement (`BookingsRepo.book`), atomic on its own. */
    const bookAtOnce = (userId: number, body: BookingIn) =>
      Effect.gen(function* () {
        const problem = yield* stayProblem(body)
        if (problem !== undefined) {
          if (Option.isNone(yield* repo.lockRoom(body.room_id))) return yield* roomNotFound(body.room_id)
          return yield* problem
        }
        const outcome = yield* repo.book({ roomId: body.room_id, userId, from: body.date_from, to: body.date_to })
        if (!outcome.roomFound) return yield* roomNotFound(body.room_id)
        if (outcome.booking === undefined) return yield* soldOut()
        return outcome.booking
      })

    /** The booking itself, inside the caller's transaction (the `Idempotency-Key` path). */
    const book = (userId: number, body: BookingIn) =>
      Effect.gen(function* () {
        const room = yield* repo.lockRoom(body.room_id)
        if (Option.isNone(room)) return yield* roomNotFound(body.room_id)
        const problem = yield* stayProblem(body)
        if (problem !== undefined) return yield* problem
        const { price, quantity } = room.value
        if (!(yield* repo.reserveNights(body.room_id, body.date_from, body.date_to, quantity))) {
          return yield* soldOut()
        }
        return yield* repo.insert({
          roomId: body.room_id,
          userId,
          from: body.date_from,
          to: body.date_to,
          price: price * nightsBetween(body.date_from, body.date_to)
        })
      })

    /** D15: the answer of a create — the original's `{"status": "OK"}`, the id and the booking. */
    const answerOf = (booking: Booking) => new BookingCreated({ status: "OK", id: booking.id, booking })

    /**
     * The first answer, again. A key completed before answers carried the booking (D15) holds only
     * `{"status": "OK"}`: the booking is read back by the id kept with the key (a 404 if it was cancelled since).
     */
    const replay = (stored: unknown, bookingId: number | null) =>
      Schema.decodeUnknown(BookingCreated)(stored).pipe(
        Effect.catchAll(() =>
          Effect.flatMap(repo.findById(bookingId ?? 0), (found) =>
            Option.isSome(found)
              ? Effect.succeed(answerOf(found.value))
              : Effect.fail(new NotFound({ detail: Messages.bookingNotFound }))
          )
        )
      )

    /** With an `Idempotency-Key`: claim it, book and remember the answer, in one transaction. */
    const createOnce = (caller: AuthenticatedUser, body: BookingIn, idempotencyKey: string) =>
      Effect.gen(function* () {
        const hash = requestHash([body.room_id, body.date_from, body.date_to])
        const claim = yield* keys.claim(caller.id, idempotencyKey, hash)
        if (claim._tag === "Mismatch") return yield* keyReused(idempotencyKey)
        if (claim._tag === "Replay") return { response: yield* replay(claim.response, claim.bookingId), created: false }
        const response = answerOf(yield* book(caller.id, body))
        yield* keys.complete(caller.id, idempotencyKey, response.id, Schema.encodeSync(BookingCreated)(response))
        return { response, created: true }
      }).pipe(repo.withTransaction)

    const create = (caller: AuthenticatedUser, body: BookingIn, idempotencyKey: string | undefined) =>
      // D11: a stay beyond MAX_STAY_NIGHTS or BOOKING_HORIZON_DAYS is a 422 before anything is read or written
      Effect.zipRight(
        limits.check(body, "body"),
        idempotencyKey === undefined
          ? Effect.map(bookAtOnce(caller.id, body), (booking) => ({ response: answerOf(booking), created: true }))
          : createOnce(caller, body, idempotencyKey)
      ).pipe(
        Effect.tapError((error) =>
          error._tag === "SqlError" && isTransient(error)
            ? Effect.logWarning("booking transaction aborted by the database, retrying", error)
            : Effect.void
        ),
        Effect.retry({ times: 3, while: (error) => error._tag === "SqlError" && isTransient(error) }),
        Effect.catchTag("SqlError", (error): Effect.Effect<never, RoomUnavailable | ValidationError> =>
          isSoldOutViolation(error)
            ? Effect.fail(soldOut())
            : isTotalTooLarge(error)
              ? Effect.fail(totalTooLarge(body))
              : Effect.die(error)
        ),
        Effect.tap(({ created }) => (created ? Effect.sync(() => counters.bookingsCreated.inc()) : Effect.void)),
        Effect.map(({ response }) => response),
        Effect.withSpan("Bookings.create", { attributes: { roomId: body.room_id }, captureStackTrace: false })
      )

    /**
     * D15: one booking, for its owner or an admin. Anyone else gets the 404 of a missing one, so a booking's
     * existence is not disclosed to other users.
     */
    const get = (caller: AuthenticatedUser, bookingId: number) =>
      Effect.flatMap(repo.findById(bookingId), (found) =>
        Option.isSome(found) && (found.value.user_id === caller.id || isAdmin(caller))
          ? Effect.succeed(found.value)
          : Effect.fail(new NotFound({ detail: Messages.bookingNotFound }))
      ).pipe(Effect.withSpan("Bookings.get"))

    /** Owner or admin (D1); 404 before 403. The inventory's triggers free the nights with the delete. */
    const cancel = (caller: AuthenticatedUser, bookingId: number) =>
      Effect.gen(function* () {
        const owner = yield* repo.findOwner(bookingId)
        const notFound = new NotFound({ detail: Messages.bookingNotFound })
        if (Option.isNone(owner)) return yield* notFound
        if (owner.value !== caller.id && !isAdmin(caller)) {
          return yield* new Forbidden({ detail: Messages.bookingNotYours })
        }
        if (!(yield* repo.remove(bookingId))) return yield* notFound
      }).pipe(Effect.withSpan("Bookings.cancel"))

    type PageParams = { readonly page?: number | undefined; readonly per_page?: number | undefined }

    const list = (params: PageParams) => repo.list(pageOf(params))

    const mine = (caller: AuthenticatedUser, params: PageParams) => repo.list({ ...pageOf(params), userId: caller.id })

    return { create, get, cancel, list, mine } as const
  })
}) {}

/**
 * The booking service with its repositories, given a `SqlClient`, `Metrics` and `StayLimits`
 * (`AvailabilityLive` is apart).
 */
export const BookingsServicesLive = BookingsService.Default.pipe(
  Layer.provide(Layer.mergeAll(BookingsRepo.Default, IdempotencyKeys.Default))
)

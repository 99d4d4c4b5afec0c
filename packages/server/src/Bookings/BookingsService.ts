/**
 * Bookings (docs/api.md §8.7, docs/data.md BR-4..BR-8) with D1's rights and D2's guarantees.
 *
 * A booking is one call of the repository's `book` (the database function `book_stay`, migration 0007), with
 * or without an `Idempotency-Key`: it claims the key, share-locks the room (404), judges the dates (400), locks
 * the stay's nights in night order and checks each has a unit free (409), prices the stay (422 above what a
 * booking holds) and inserts the booking — the inventory's triggers count it and its CHECK is the database's
 * own refusal to overbook — then records the key's answer, all in one statement. Row locks serialise exactly
 * the requests that compete for the same nights; no retries are needed for correctness (a deadlock, which the
 * fixed lock order rules out, would still be retried). This service turns the repository's outcomes into the
 * contract's answers; it reads no database error.
 */
import {
  type Booking,
  BookingCreated,
  type BookingDates,
  type BookingIn,
  type BookingStatus
} from "@shum/domain/Bookings"
import { pageOf } from "@shum/domain/Common"
import {
  Conflict,
  Forbidden,
  InvalidDateRange,
  NotFound,
  RoomUnavailable,
  type Unauthorized,
  ValidationError
} from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { isAdmin, type AuthenticatedUser, type UncheckedSession } from "@shum/domain/Security"
import { spanned } from "@shum/infra/Telemetry"
import { Clock, DateTime, Effect, Layer, Option, Schema } from "effect"
import { Metrics } from "../Metrics.js"
import { IdempotencyKeys, requestHash } from "./IdempotencyKeys.js"
import { type BookOutcome, BookingsRepo, type BookingWriteAborted, type CommandOutcome } from "./BookingsRepo.js"
import { isoDateUtc, StayLimits } from "./StayLimits.js"
import { datesRefused, keyReused, retryAborted, type StayError, stayRefused } from "./StayWrites.js"

/** What a booking's write may fail with before its outcome is answered: the stay limits' 422, the statement's. */
type BookOrLimitError = ValidationError | BookingWriteAborted | Unauthorized

export class BookingsService extends Effect.Service<BookingsService>()("server/BookingsService", {
  effect: Effect.gen(function* () {
    const repo = yield* BookingsRepo
    const { counters } = yield* Metrics
    const limits = yield* StayLimits

    const todayUtc = Effect.map(DateTime.now, DateTime.formatIsoDateUtc)

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
            Option.isSome(found) && found.value.status === "confirmed"
              ? Effect.succeed(answerOf(found.value))
              : Effect.fail(new NotFound({ detail: Messages.bookingNotFound }))
          )
        )
      )

    /** The response of an answer, counted when a booking was created. */
    const created = ({ created, response }: { readonly response: BookingCreated; readonly created: boolean }) => {
      if (created) counters.bookingsCreated.inc()
      return response
    }

    /** The contract's answer to what the repository did: the response, and whether a booking was created. */
    const answer = (
      outcome: BookOutcome,
      body: BookingIn,
      idempotencyKey: string | undefined
    ): Effect.Effect<{ readonly response: BookingCreated; readonly created: boolean }, StayError> => {
      switch (outcome._tag) {
        case "Booked":
          return Effect.succeed({ response: outcome.answer, created: true })
        case "Replayed":
          return Effect.map(replay(outcome.stored, outcome.bookingId), (response) => ({ response, created: false }))
        default:
          return stayRefused(outcome, body, idempotencyKey)
      }
    }

    /**
     * `POST /bookings` for a session its statement checks (docs/decisions.md D13): a refused session is the
     * 401 of the middleware, before the key, the room or anything else is looked at. One reading of the clock
     * gives the stay limits' "now" and the statement's "today"; the common answer (booked) is counted and given
     * in the same step — the booking's path is as few of Effect's steps as it can be (bench/README.md, "The
     * booking's own path").
     */
    const create = (session: UncheckedSession, body: BookingIn, idempotencyKey: string | undefined) =>
      retryAborted(
        "BookingWriteAborted",
        "booking"
      )(
        Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<BookOutcome, BookOrLimitError> => {
          // D11: a stay beyond MAX_STAY_NIGHTS or BOOKING_HORIZON_DAYS is a 422 before anything is read or written
          const refusal = limits.refusalAt(body, "body", now)
          if (refusal !== undefined) return Effect.fail(refusal)
          return repo.bookInSession(session, {
            roomId: body.room_id,
            from: body.date_from,
            to: body.date_to,
            today: isoDateUtc(now),
            idempotency:
              idempotencyKey === undefined
                ? undefined
                : { key: idempotencyKey, hash: requestHash([body.room_id, body.date_from, body.date_to]) }
          })
        })
      ).pipe(
        Effect.flatMap((outcome): Effect.Effect<BookingCreated, StayError> => {
          if (outcome._tag !== "Booked") return Effect.map(answer(outcome, body, idempotencyKey), created)
          counters.bookingsCreated.inc()
          return Effect.succeed(outcome.answer)
        }),
        spanned("Bookings.create", { attributes: { roomId: body.room_id }, captureStackTrace: false })
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
      ).pipe(spanned("Bookings.get"))

    /** The key of a command's request, and the hash of what it asks (the command's name included). */
    const keyed = (idempotencyKey: string | undefined, request: ReadonlyArray<string | number>) =>
      idempotencyKey === undefined ? undefined : { key: idempotencyKey, hash: requestHash(request) }

    /** A command run once more when the database aborted it (a deadlock), as a booking is; then a defect. */
    const retried = retryAborted("BookingWriteAborted", "booking command")

    /**
     * The `outcome` label of `booking_cancels_total` and `booking_date_changes_total` (docs/operations.md §11):
     * what the command's statement answered; `done` names the command's own success.
     */
    const outcomeLabel = (outcome: CommandOutcome, done: string) => {
      switch (outcome._tag) {
        case "Done":
          return outcome.unchanged === true ? "unchanged" : done
        case "Replayed":
          return "replayed"
        case "KeyReused":
          return "key_reused"
        case "BookingNotFound":
          return "not_found"
        case "NotYours":
          return "forbidden"
        case "AlreadyCancelled":
          return "already_cancelled"
        case "SoldOut":
          return "sold_out"
        default:
          return "dates_refused"
      }
    }
    const countCancel = (outcome: CommandOutcome) =>
      Effect.sync(() => counters.bookingCancels.inc({ outcome: outcomeLabel(outcome, "cancelled") }))
    const countDateChange = (label: string) => Effect.sync(() => counters.bookingDateChanges.inc({ outcome: label }))

    /** What any command on a booking may answer: the booking (done now, or replayed), or a refusal of the request. */
    const commandCommon = (
      outcome: CommandOutcome,
      idempotencyKey: string | undefined,
      forbidden: string
    ): Effect.Effect<Booking, NotFound | Forbidden | Conflict | ValidationError> | undefined => {
      switch (outcome._tag) {
        case "Done":
        case "Replayed":
          return Effect.succeed(outcome.booking)
        case "KeyReused":
          return Effect.fail(keyReused(idempotencyKey ?? ""))
        case "BookingNotFound":
          return Effect.fail(new NotFound({ detail: Messages.bookingNotFound }))
        case "NotYours":
          return Effect.fail(new Forbidden({ detail: forbidden }))
        case "AlreadyCancelled":
          return Effect.fail(new Conflict({ detail: Messages.bookingCancelled }))
        default:
          return undefined
      }
    }

    /** What only a change of dates may answer besides: its dates, its nights, its price. */
    const changeAnswer = (
      outcome: CommandOutcome,
      idempotencyKey: string | undefined,
      dates: BookingDates
    ): Effect.Effect<
      Booking,
      NotFound | Forbidden | Conflict | InvalidDateRange | RoomUnavailable | ValidationError
    > => {
      switch (outcome._tag) {
        // a change names the full nights
        case "SoldOut":
          return Effect.fail(
            new RoomUnavailable({
              detail: outcome.nights.length > 0 ? Messages.nightsSoldOut(outcome.nights) : Messages.roomSoldOut
            })
          )
        case "StayInvalid":
        case "StayInPast":
        case "TotalTooLarge":
          return datesRefused(outcome, dates, idempotencyKey)
        default:
          return commandCommon(outcome, idempotencyKey, Messages.forbidden) ?? Effect.dieMessage(outcome._tag)
      }
    }

    /**
     * `POST /bookings/{id}/cancel` (docs/data.md BR-14): owner or admin (D1), 404 before 403; the booking is kept
     * as `cancelled` and its nights are released, in one statement; an already cancelled one is a 409.
     */
    const cancelCommand = (caller: AuthenticatedUser, bookingId: number, idempotencyKey: string | undefined) =>
      retried(
        repo.cancel({
          bookingId,
          userId: caller.id,
          admin: isAdmin(caller),
          cancelledIsMissing: false,
          idempotency: keyed(idempotencyKey, ["cancel", bookingId])
        })
      ).pipe(
        Effect.tap(countCancel),
        Effect.flatMap(
          (outcome) =>
            commandCommon(outcome, idempotencyKey, Messages.bookingNotYours) ??
            Effect.dieMessage(`cancel_booking answered ${outcome._tag}`)
        ),
        spanned("Bookings.cancelCommand", { captureStackTrace: false })
      )

    /**
     * `DELETE /bookings/{id}` (docs/data.md BR-8): the same cancellation, answered as the original did — and a
     * booking already cancelled is the 404 of a deleted one.
     */
    const cancel = (caller: AuthenticatedUser, bookingId: number) =>
      retried(repo.cancel({ bookingId, userId: caller.id, admin: isAdmin(caller), cancelledIsMissing: true })).pipe(
        Effect.tap(countCancel),
        Effect.flatMap((outcome): Effect.Effect<void, NotFound | Forbidden> => {
          switch (outcome._tag) {
            case "Done":
              return Effect.void
            case "BookingNotFound":
              return Effect.fail(new NotFound({ detail: Messages.bookingNotFound }))
            case "NotYours":
              return Effect.fail(new Forbidden({ detail: Messages.bookingNotYours }))
            default:
              return Effect.dieMessage(`cancel_booking answered ${outcome._tag} to a DELETE`)
          }
        }),
        spanned("Bookings.cancel", { captureStackTrace: false })
      )

    /**
     * `POST /bookings/{id}/change-dates` (docs/data.md BR-14): the stay limits first (D11, 422), then one
     * statement: owner or admin, not cancelled, the dates (400), the new nights taken and the old released
     * together or a 409 naming the full nights, the new price.
     */
    const changeDates = (
      caller: AuthenticatedUser,
      bookingId: number,
      dates: BookingDates,
      idempotencyKey: string | undefined
    ) =>
      Effect.zipRight(
        // the stay limits' 422 is a refusal of the dates too, before anything is asked of the database
        Effect.tapError(limits.check(dates, "body"), () => countDateChange("dates_refused")),
        Effect.flatMap(todayUtc, (today) =>
          retried(
            repo.changeDates({
              bookingId,
              userId: caller.id,
              admin: isAdmin(caller),
              from: dates.date_from,
              to: dates.date_to,
              today,
              idempotency: keyed(idempotencyKey, ["change-dates", bookingId, dates.date_from, dates.date_to])
            })
          )
        )
      ).pipe(
        Effect.tap((outcome) => countDateChange(outcomeLabel(outcome, "changed"))),
        Effect.flatMap((outcome) => changeAnswer(outcome, idempotencyKey, dates)),
        spanned("Bookings.changeDates", { captureStackTrace: false })
      )

    type ListParams = {
      readonly page?: number | undefined
      readonly per_page?: number | undefined
      readonly status?: BookingStatus | undefined
    }

    /** Confirmed bookings unless `status` says otherwise (docs/data.md BR-14). */
    const list = (params: ListParams) => repo.list({ ...pageOf(params), status: params.status ?? "confirmed" })

    const mine = (caller: AuthenticatedUser, params: ListParams) =>
      repo.list({ ...pageOf(params), status: params.status ?? "confirmed", userId: caller.id })

    return { create, get, cancel, cancelCommand, changeDates, list, mine } as const
  }),
  dependencies: [BookingsRepo.Default, StayLimits.Default]
}) {}

/**
 * The booking service (with its repository and stay limits) and the idempotency keys' purge, given a
 * `SqlClient`, `AppConfig` and `Metrics`.
 */
export const BookingsServicesLive = Layer.merge(BookingsService.Default, Layer.discard(IdempotencyKeys.Default))

/**
 * Holds (docs/api.md §8.9, docs/data.md BR-13): place, read, confirm, release.
 *
 * Placing a hold is one statement (`HoldsRepo.place`, the database function `hold_place`), judged in the order
 * of a booking: the `Idempotency-Key` claimed (a replay answers the first hold), the room share-locked (404),
 * the dates (400), the caller's active holds counted under a per-user lock (409 too-many-holds), the capacity
 * check bookings use (`take_nights`: expired holds on the stay's nights released first, the nights locked in
 * night order, 409 when one is full), the hold inserted — its trigger adds it to `room_nights.held`, whose
 * CHECK (`sold + held <= capacity`) is the database's own refusal to overbook. Confirming is one statement too
 * (`HoldsRepo.confirm`) that writes no night: the booking takes the hold's units over where they are counted,
 * in `held` (docs/data.md BR-13); the hold's row lock decides a confirm racing the sweep.
 */
import type { Booking } from "@shum/domain/Bookings"
import {
  HoldExpired,
  HoldNotActive,
  NotFound,
  TooManyHolds,
  type Unauthorized,
  type ValidationError
} from "@shum/domain/Errors"
import { Hold, type HoldIn } from "@shum/domain/Holds"
import { Messages } from "@shum/domain/Messages"
import { isAdmin, type AuthenticatedUser, type UncheckedSession } from "@shum/domain/Security"
import { AppConfig } from "@shum/infra/Config"
import { spanned } from "@shum/infra/Telemetry"
import { Clock, Effect, Option, Schema } from "effect"
import { requestHash } from "../Bookings/IdempotencyKeys.js"
import { isoDateUtc, StayLimits } from "../Bookings/StayLimits.js"
import { retryAborted, type StayError, stayRefused } from "../Bookings/StayWrites.js"
import { Metrics } from "../Metrics.js"
import { type HoldWriteAborted, HoldsRepo, type PlaceOutcome } from "./HoldsRepo.js"

const holdNotFound = () => new NotFound({ detail: Messages.holdNotFound })

type PlaceError = StayError | TooManyHolds

export class HoldsService extends Effect.Service<HoldsService>()("server/HoldsService", {
  effect: Effect.gen(function* () {
    const repo = yield* HoldsRepo
    const limits = yield* StayLimits
    const { holds: settings } = yield* AppConfig
    const { counters } = yield* Metrics

    const answer = (
      body: HoldIn,
      key: string | undefined,
      outcome: PlaceOutcome
    ): Effect.Effect<{ readonly hold: Hold; readonly created: boolean }, PlaceError> => {
      switch (outcome._tag) {
        case "Held":
          return Effect.succeed({ hold: outcome.hold, created: true })
        case "Replayed":
          // the hold as it is now (expired, released, confirmed since?), not as it was first answered: a
          // retrying client must not believe it still holds a room it lost
          return Effect.orDie(Schema.decodeUnknown(Hold)(outcome.stored)).pipe(
            Effect.flatMap((first) =>
              Effect.map(
                repo.findById(first.id),
                Option.getOrElse(() => first)
              )
            ),
            Effect.map((hold) => ({ hold, created: false }))
          )
        case "TooMany":
          return Effect.fail(new TooManyHolds({ detail: Messages.tooManyHolds(settings.maxActivePerUser) }))
        default:
          return stayRefused(outcome, body, key)
      }
    }

    /**
     * `POST /holds` for a session its statement checks (docs/decisions.md D13): refused, the middleware's 401.
     * As `POST /bookings` (bench/README.md "The booking's own path"): one reading of the clock gives the stay
     * limits' "now" and the statement's "today", and the common answer (held) is counted and given in one step.
     */
    const create = (session: UncheckedSession, body: HoldIn, idempotencyKey: string | undefined) =>
      retryAborted(
        "HoldWriteAborted",
        "hold"
      )(
        Effect.flatMap(
          Clock.currentTimeMillis,
          (now): Effect.Effect<PlaceOutcome, ValidationError | HoldWriteAborted | Unauthorized> => {
            // D11: the limits of a booking, a 422 before anything is read or written
            const refusal = limits.refusalAt(body, "body", now)
            if (refusal !== undefined) return Effect.fail(refusal)
            return repo.placeInSession(session, {
              roomId: body.room_id,
              from: body.date_from,
              to: body.date_to,
              today: isoDateUtc(now),
              ttlSeconds: settings.ttlSeconds,
              maxActive: settings.maxActivePerUser,
              idempotency:
                idempotencyKey === undefined
                  ? undefined
                  : // "hold" first: the same key and body sent to POST /bookings is another request
                    { key: idempotencyKey, hash: requestHash(["hold", body.room_id, body.date_from, body.date_to]) }
            })
          }
        )
      ).pipe(
        Effect.flatMap((outcome): Effect.Effect<Hold, PlaceError> => {
          if (outcome._tag === "Held") {
            counters.holdsCreated.inc()
            return Effect.succeed(outcome.hold)
          }
          return Effect.map(answer(body, idempotencyKey, outcome), ({ created, hold }) => {
            if (created) counters.holdsCreated.inc()
            return hold
          })
        }),
        spanned("Holds.create", { attributes: { roomId: body.room_id }, captureStackTrace: false })
      )

    /** The hold for its owner or an admin; anyone else gets the 404 of a missing one. */
    const visible = (caller: AuthenticatedUser, holdId: number) =>
      Effect.flatMap(repo.findById(holdId), (found) =>
        Option.isSome(found) && (found.value.user_id === caller.id || isAdmin(caller))
          ? Effect.succeed(found.value)
          : Effect.fail(holdNotFound())
      )

    const get = (caller: AuthenticatedUser, holdId: number) => visible(caller, holdId).pipe(spanned("Holds.get"))

    /**
     * `POST /holds/{id}/confirm` for a session its statement checks, the caller's role (D1: an admin may confirm
     * anyone's hold) read by that statement too (docs/decisions.md D13).
     */
    const confirm = (
      session: UncheckedSession,
      holdId: number
    ): Effect.Effect<Booking, NotFound | HoldNotActive | HoldExpired | Unauthorized> =>
      repo.confirmInSession(session, holdId).pipe(
        retryAborted("HoldWriteAborted", "hold confirm"),
        Effect.flatMap((outcome): Effect.Effect<Booking, NotFound | HoldNotActive | HoldExpired | Unauthorized> => {
          switch (outcome._tag) {
            case "NotFound":
              return Effect.fail(holdNotFound())
            case "Released":
              return Effect.fail(new HoldNotActive({ detail: Messages.holdNotActive }))
            // counted in the same step as the answer (fewer of Effect's steps per confirm: bench/README.md)
            case "Expired":
              if (outcome.now) counters.holdsExpired.inc()
              return Effect.fail(new HoldExpired({ detail: Messages.holdExpired }))
            case "Confirmed":
              if (outcome.now) counters.holdsConfirmed.inc()
              return Option.isSome(outcome.booking)
                ? Effect.succeed(outcome.booking.value)
                : Effect.fail(new NotFound({ detail: Messages.bookingNotFound }))
          }
        }),
        spanned("Holds.confirm", { attributes: { holdId }, captureStackTrace: false })
      )

    /** Owner or admin; an active hold is released (or expired, past its time), any other answered as it is. */
    const release = (caller: AuthenticatedUser, holdId: number) =>
      Effect.gen(function* () {
        yield* visible(caller, holdId)
        const released = yield* repo.release(holdId)
        if (Option.isSome(released)) {
          yield* Effect.sync(() =>
            released.value.status === "expired" ? counters.holdsExpired.inc() : counters.holdsReleased.inc()
          )
          return released.value
        }
        const now = yield* visible(caller, holdId)
        if (now.status === "confirmed") return yield* new HoldNotActive({ detail: Messages.holdNotActive })
        return now
      }).pipe(spanned("Holds.release", { attributes: { holdId }, captureStackTrace: false }))

    return { create, get, confirm, release } as const
  }),
  dependencies: [HoldsRepo.Default, StayLimits.Default]
}) {}

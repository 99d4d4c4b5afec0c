/**
 * What writing a stay shares, whether it is a booking (`book_stay`, migration 0007; the booking commands,
 * migration 0010) or a hold (`hold_place`, migration 0008): these functions judge a stay in the same order and
 * name its refusals alike. Here those refusals are decoded once for the repositories (`stayRefusalOrDie`, `stayWriteFailed`)
 * and answered once for the services (`stayRefused`, `datesRefused`: docs/errors.md), and a write the
 * database aborted is run again the same way (`retryAborted`). Each slice keeps its own outcomes (booked,
 * held, too many holds …).
 */
import type { SqlError } from "@effect/sql/SqlError"
import { INT32 } from "@shum/domain/Common"
import { InvalidDateRange, NotFound, RoomUnavailable, ValidationError } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { classifySqlError } from "@shum/infra/SqlFailures"
import { Effect, Predicate } from "effect"

/** The caller's `Idempotency-Key` and the hash of the request it stands for (docs/decisions.md D15). */
export interface KeyedRequest {
  readonly key: string
  readonly hash: string
}

/** A new stay asked for: a booking, a hold. */
export interface StayRequest {
  readonly roomId: number
  readonly userId: number
  readonly from: string
  readonly to: string
  /** Today (UTC): a stay may not start before it. */
  readonly today: string
  readonly idempotency?: KeyedRequest | undefined
}

/** The refusals a stay's write names, in the order the database functions judge them. */
export type StayRefusal =
  | { readonly _tag: "KeyReused" }
  | { readonly _tag: "RoomNotFound" }
  /** Empty or reversed. */
  | { readonly _tag: "StayInvalid" }
  | { readonly _tag: "StayInPast" }
  /** `nights`: the nights without a unit free (empty when the inventory's CHECK refused a night filled meanwhile). */
  | { readonly _tag: "SoldOut"; readonly nights: ReadonlyArray<string> }
  /** The room's price × nights is above what `bookings.price` holds. */
  | { readonly _tag: "TotalTooLarge" }

/** A row of a stay's write: its outcome, and the full nights where it names them. */
export interface StayRow {
  readonly outcome: string
  readonly full_nights?: ReadonlyArray<string> | null | undefined
}

/** The refusal the row's outcome names, or `undefined` for an outcome of the slice's own. */
const stayRefusalOf = (row: StayRow): StayRefusal | undefined => {
  switch (row.outcome) {
    case "key_reused":
      return { _tag: "KeyReused" }
    case "no_room":
      return { _tag: "RoomNotFound" }
    case "stay_invalid":
      return { _tag: "StayInvalid" }
    case "stay_in_past":
      return { _tag: "StayInPast" }
    case "sold_out":
      return { _tag: "SoldOut", nights: row.full_nights ?? [] }
    case "total_too_large":
      return { _tag: "TotalTooLarge" }
    default:
      return undefined
  }
}

/** The refusal the row names, where the slice's own outcomes did not match; any other outcome a defect. */
export const stayRefusalOrDie = (row: StayRow | undefined, writer: string): Effect.Effect<StayRefusal> => {
  const refusal = row === undefined ? undefined : stayRefusalOf(row)
  return refusal === undefined
    ? Effect.dieMessage(`${writer} answered an unknown outcome: ${String(row?.outcome)}`)
    : Effect.succeed(refusal)
}

/**
 * A stay's write refused by the database: the inventory's CHECK (a night filled by a concurrent write after
 * `take_nights` looked) is sold out; an aborted write (a deadlock, a serialization failure) is `aborted`'s
 * error, which may be run again; any other failure a defect.
 */
export const stayWriteFailed =
  <E>(aborted: (cause: SqlError) => E) =>
  (error: SqlError): Effect.Effect<{ readonly _tag: "SoldOut"; readonly nights: ReadonlyArray<string> }, E> => {
    switch (classifySqlError(error)) {
      case "Aborted":
        return Effect.fail(aborted(error))
      case "InventoryExceeded":
        return Effect.succeed({ _tag: "SoldOut", nights: [] })
      default:
        return Effect.die(error)
    }
  }

/** A 422: the stay's total is above what a booking holds (`bookings.price` is an `integer`). */
const totalTooLarge = (body: { readonly date_to: string }) =>
  new ValidationError({
    detail: [
      {
        type: "value_error",
        loc: ["body", "date_to"],
        msg: `Value error, the stay's total price (the room's price × nights) is above ${INT32.maximum}, the most a booking can hold`,
        input: body.date_to
      }
    ]
  })

/** A 422: the `Idempotency-Key` was sent before with another request. */
export const keyReused = (key: string) =>
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

export type StayError = NotFound | InvalidDateRange | RoomUnavailable | ValidationError

/** A refusal that names no room: what new dates for a booking may be refused too. */
export type DatesRefusal = Exclude<StayRefusal, { readonly _tag: "RoomNotFound" }>

/**
 * The contract's answer to a refusal of the stay's dates (`body`), sent with `key`; sold out is the room's
 * message, as a new stay is answered.
 */
export const datesRefused = (
  refusal: DatesRefusal,
  body: { readonly date_to: string },
  key: string | undefined
): Effect.Effect<never, InvalidDateRange | RoomUnavailable | ValidationError> => {
  switch (refusal._tag) {
    case "KeyReused":
      return Effect.fail(keyReused(key ?? ""))
    case "StayInvalid":
      return Effect.fail(new InvalidDateRange({ detail: Messages.stayInvalid }))
    case "StayInPast":
      return Effect.fail(new InvalidDateRange({ detail: Messages.stayInPast }))
    case "SoldOut":
      return Effect.fail(new RoomUnavailable({ detail: Messages.roomSoldOut }))
    case "TotalTooLarge":
      return Effect.fail(totalTooLarge(body))
  }
}

/** The contract's answer to a refusal of a new stay (a booking, a hold) for `body`, sent with `key`. */
export const stayRefused = (
  refusal: StayRefusal,
  body: { readonly room_id: number; readonly date_to: string },
  key: string | undefined
): Effect.Effect<never, StayError> =>
  refusal._tag === "RoomNotFound"
    ? Effect.fail(new NotFound({ detail: Messages.entityNotFound("Номер", body.room_id) }))
    : datesRefused(refusal, body, key)

/**
 * A write the database aborted (`tag`: a deadlock, a serialization failure; nothing happened) run again, up to
 * three times, with a warning naming `what`; then a defect (503 E-91), never a false answer.
 */
export const retryAborted =
  <T extends string>(tag: T, what: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, { readonly _tag: T }>, R> => {
    const isAborted = (error: unknown): error is { readonly _tag: T; readonly cause: unknown } =>
      Predicate.isTagged(error, tag)
    // a catch per attempt, not `Effect.retry`, whose schedule is built on every call, retried or not (≈ 12 µs of
    // every write: bench/README.md, "Issue 18 and 19: the write path")
    const attempt = (retriesLeft: number): Effect.Effect<A, E, R> =>
      Effect.catchAll(effect, (error) =>
        isAborted(error)
          ? Effect.zipRight(
              Effect.logWarning(`${what} aborted by the database, retrying`, error.cause),
              retriesLeft > 0 ? attempt(retriesLeft - 1) : Effect.die(error.cause)
            )
          : Effect.fail(error)
      )
    return attempt(3) as Effect.Effect<A, Exclude<E, { readonly _tag: T }>, R>
  }

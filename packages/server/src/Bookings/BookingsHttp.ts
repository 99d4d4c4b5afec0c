import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { Booking, BookingCreated } from "@shum/domain/Bookings"
import { ShumApi } from "@shum/domain/Api"
import { DateString, Message } from "@shum/domain/Common"
import { CurrentUser } from "@shum/domain/Security"
import { withRequestSession } from "../Auth/DeferredSession.js"
import { Effect, Schema } from "effect"
import { closedGroup } from "../Http/ClosedGroup.js"
import { locateCreated } from "../Http/Location.js"
import { BookingsService } from "./BookingsService.js"

/** The stay's dates are the request's own (decoded `DateString`s), or `isDate` is checked on each. */
type DatesCheck = { readonly date_from: string; readonly date_to: string } | ((date: unknown) => boolean)

const isDateString = Schema.is(DateString)

/**
 * A booking's fields in the model's order (`Booking`: `id`, `room_id`, `user_id`, `date_from`, `date_to`, `price`,
 * `created_at`, `status`) as `HttpApi`'s encoding would write them, when every field is one the schema allows:
 * integers that are safe integers, the dates the request's own or valid `DateString`s, a string `created_at`,
 * a known status; otherwise `undefined` (the answer is then left to the encoding, which refuses it: 500).
 */
const encodedBooking = (booking: Booking, dates: DatesCheck) => {
  const datesOk =
    typeof dates === "function"
      ? isDateString(booking.date_from) && isDateString(booking.date_to)
      : booking.date_from === dates.date_from && booking.date_to === dates.date_to
  if (
    !datesOk ||
    !Number.isSafeInteger(booking.id) ||
    !Number.isSafeInteger(booking.room_id) ||
    !Number.isSafeInteger(booking.user_id) ||
    !Number.isSafeInteger(booking.price) ||
    typeof booking.created_at !== "string" ||
    (booking.status !== "confirmed" && booking.status !== "cancelled")
  ) {
    return undefined
  }
  return {
    id: booking.id,
    room_id: booking.room_id,
    user_id: booking.user_id,
    date_from: booking.date_from,
    date_to: booking.date_to,
    price: booking.price,
    created_at: booking.created_at,
    status: booking.status
  }
}

/**
 * `POST /bookings`' answer as `HttpApi` would encode it — `200`, `application/json`, the fields in the models'
 * order (`{"status", "id", "booking": {"id", "room_id", …}}`) — without running the encoding's schema over it
 * (the booking's path, bench/README.md "The booking's own path"). Only an answer whose every field is what the
 * schema allows is written so: integers that are safe integers, the stay's dates the request's own (decoded
 * `DateString`s), a string `created_at` and a known status; anything else is left to `HttpApi`, whose
 * encoding refuses it (500) as before. `test/unit/WriteAnswers.test.ts` checks the bytes are the encoding's.
 */
export const bookingCreatedResponse = (
  answer: BookingCreated,
  stay: { readonly room_id: number; readonly date_from: string; readonly date_to: string }
): HttpServerResponse.HttpServerResponse | BookingCreated => {
  if (answer.status !== "OK" || !Number.isSafeInteger(answer.id) || answer.booking.room_id !== stay.room_id) {
    return answer
  }
  const booking = encodedBooking(answer.booking, stay)
  return booking === undefined
    ? answer
    : HttpServerResponse.unsafeJson({ status: answer.status, id: answer.id, booking })
}

/**
 * A booking answered as `HttpApi` encodes a `Booking` (`200`, `application/json`, the model's order; `POST
 * /holds/{id}/confirm`): its dates, read from the database, checked as `DateString`s. Any field the schema would
 * refuse leaves the booking to the encoding (500), as `bookingCreatedResponse` does.
 */
export const bookingResponse = (booking: Booking): HttpServerResponse.HttpServerResponse | Booking => {
  const encoded = encodedBooking(booking, isDateString)
  return encoded === undefined ? booking : HttpServerResponse.unsafeJson(encoded)
}

/**
 * The bookings' group, built by `closedGroup` (`Http/ClosedGroup.ts`): its handlers took their services when it
 * was built, so each call merges only the group's middlewares into the handler's context, not the application's
 * fifty-odd services (≈ 10 KB per booking; bench/README.md, "The booking's own path").
 */
export const BookingsLive = closedGroup(ShumApi, "bookings", (handlers) =>
  Effect.gen(function* () {
    const bookings = yield* BookingsService
    // the configured ROOT_PATH read once, not per booking
    const locate = yield* locateCreated
    return handlers
      .handle("list", ({ urlParams }) => bookings.list(urlParams))
      .handle("mine", ({ urlParams }) => Effect.flatMap(CurrentUser, (caller) => bookings.mine(caller, urlParams)))
      .handle("create", ({ headers, payload }) =>
        // the session is checked by the booking's own statement (DeferredAuthentication, docs/decisions.md D13)
        withRequestSession((session) => bookings.create(session, payload, headers["idempotency-key"])).pipe(
          Effect.flatMap((answer) =>
            Effect.as(locate(`/bookings/${answer.id}`), bookingCreatedResponse(answer, payload))
          )
        )
      )
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, (caller) => bookings.get(caller, path.booking_id)))
      .handle("delete", ({ path }) =>
        Effect.flatMap(CurrentUser, (caller) => bookings.cancel(caller, path.booking_id)).pipe(Effect.as(Message.ok))
      )
      .handle("cancel", ({ headers, path }) =>
        Effect.flatMap(CurrentUser, (caller) =>
          bookings.cancelCommand(caller, path.booking_id, headers["idempotency-key"])
        )
      )
      .handle("changeDates", ({ headers, path, payload }) =>
        Effect.flatMap(CurrentUser, (caller) =>
          bookings.changeDates(caller, path.booking_id, payload, headers["idempotency-key"])
        )
      )
  })
)

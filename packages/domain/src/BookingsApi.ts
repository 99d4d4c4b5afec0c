/**
 * Bookings (docs/api.md §8.7, §10; docs/decisions.md D1, D2).
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { Booking, BookingCreated, BookingDates, BookingIn } from "./Bookings.js"
import { Message } from "./Common.js"
import {
  Conflict,
  IntegrityViolation,
  Forbidden,
  InvalidDateRange,
  NotFound,
  RateLimited,
  RoomUnavailable,
  ValidationError
} from "./Errors.js"
import {
  BookingIdPath,
  BookingsQuery,
  CommandIdempotencyHeaders,
  IdempotencyHeaders,
  STAY_LIMITS_TEXT
} from "./Params.js"
import { locatesCreated } from "./OpenApiHeaders.js"
import { AdminAuthentication, Authentication, DeferredAuthentication } from "./Security.js"

export class BookingsApi extends HttpApiGroup.make("bookings")
  .add(
    HttpApiEndpoint.get("list", "/bookings")
      .setUrlParams(BookingsQuery)
      .addSuccess(Schema.Array(Booking))
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "listBookings")
      .annotate(OpenApi.Summary, "List all bookings")
      .annotate(
        OpenApi.Description,
        "Every user's bookings, paginated, latest `date_from` first (then by id); confirmed ones unless " +
          "`status` asks for the cancelled (docs/data.md BR-14).\n\n" +
          "Admin only (D1; the original was anonymous)."
      )
  )
  // Declared before `/bookings/:booking_id`: the literal path wins (docs/api.md §13).
  .add(
    HttpApiEndpoint.get("mine", "/bookings/me")
      .setUrlParams(BookingsQuery)
      .addSuccess(Schema.Array(Booking))
      .addError(ValidationError)
      .middleware(Authentication)
      .annotate(OpenApi.Identifier, "listMyBookings")
      .annotate(OpenApi.Summary, "My bookings")
      .annotate(
        OpenApi.Description,
        "The caller's bookings, paginated, latest `date_from` first (then by id); confirmed ones unless `status` " +
          "asks for the cancelled."
      )
  )
  .add(
    HttpApiEndpoint.post("create", "/bookings")
      .setHeaders(IdempotencyHeaders)
      .setPayload(BookingIn)
      .addSuccess(BookingCreated)
      .addError(NotFound)
      .addError(InvalidDateRange)
      .addError(RoomUnavailable)
      .addError(Conflict)
      // the caller's account deleted while the booking is written (foreign key): 409 E-90
      .addError(IntegrityViolation)
      .addError(ValidationError)
      // signed in; the session (user, logout, token version) checked by the booking's own statement (D13)
      .middleware(DeferredAuthentication)
      .annotate(OpenApi.Identifier, "createBooking")
      .annotate(OpenApi.Transform, locatesCreated("/bookings/{booking_id}"))
      .annotate(OpenApi.Summary, "Book a room")
      .annotate(
        OpenApi.Description,
        "Books one unit of a room type for the caller; `price` = nightly price × nights. Answers " +
          '`{"status": "OK", "id": <id>, "booking": {…}}` and `Location: /bookings/{id}` (D15; after `ROOT_PATH` ' +
          "when the service has one); a replay (`Idempotency-Key`) answers the same. " +
          "Bookings of a room are " +
          "serialised in the database, so concurrent requests can never exceed its `quantity` on any night (D2).\n\n" +
          "Order: 401 → 422 (also a stay beyond the limits below) → `Idempotency-Key` seen before for this user: same body → the first answer is " +
          "replayed and nothing is booked; another body → 422; the first request still running → this one waits for it and gets its answer " +
          "(never a second booking) → unknown " +
          "room → 404 `Номер с ID {id} не найден` → `date_from` not before `date_to` → 400 `Дата заезда должна " +
          "быть раньше даты выезда` → `date_from` before today (UTC) → 400 `Дата заезда не может быть в прошлом` " +
          "→ no free unit on some night → 409 `Все номера данного типа уже забронированы на указанные даты`.\n\n" +
          `Limits (D11): ${STAY_LIMITS_TEXT} A total above 2147483647 (the room's price × nights) is a 422 on ` +
          "`date_to`.\n\n" +
          "Differs from the original (D2): sold out is 409 (the original answered 400, its own docs said 409), " +
          "availability is counted per night, past dates are refused, and overbooking under concurrency is " +
          "impossible."
      )
  )
  .add(
    HttpApiEndpoint.get("get", "/bookings/:booking_id")
      .setPath(BookingIdPath)
      .addSuccess(Booking)
      .addError(NotFound)
      .addError(ValidationError)
      .middleware(Authentication)
      .annotate(OpenApi.Identifier, "getBooking")
      .annotate(OpenApi.Summary, "Get a booking")
      .annotate(
        OpenApi.Description,
        "One booking, for its owner or an admin (D15; the original had no such read), cancelled ones too " +
          "(`status`). Order: 401 → 422 → " +
          "unknown id, or another user's booking and the caller is not an admin → 404 `Бронирование не найдено` " +
          "(the same answer: nobody learns which ids exist)."
      )
  )
  .add(
    HttpApiEndpoint.del("delete", "/bookings/:booking_id")
      .setPath(BookingIdPath)
      .addSuccess(Message)
      .addError(NotFound)
      .addError(Forbidden)
      .addError(ValidationError)
      .middleware(Authentication)
      .annotate(OpenApi.Identifier, "cancelBooking")
      .annotate(OpenApi.Summary, "Cancel a booking")
      .annotate(
        OpenApi.Description,
        'Cancels the booking and frees its nights; answers the original\'s `{"status": "OK"}`. Order: 401 → ' +
          "422 → unknown id, or a booking already cancelled → 404 `Бронирование не найдено` → another user's " +
          "booking and the caller is not an admin → 403 `Недостаточно прав для удаления этого бронирования`.\n\n" +
          "New (D1): an admin may cancel anyone's booking. New (docs/data.md BR-14): the booking is kept as " +
          "`cancelled` (its owner and admins still read it), as `POST /bookings/{booking_id}/cancel` does; it " +
          "leaves the lists, which show confirmed bookings by default."
      )
  )
  .add(
    HttpApiEndpoint.post("cancel", "/bookings/:booking_id/cancel")
      .setPath(BookingIdPath)
      .setHeaders(CommandIdempotencyHeaders)
      .addSuccess(Booking)
      .addError(NotFound)
      .addError(Forbidden)
      .addError(Conflict)
      .addError(ValidationError)
      .middleware(Authentication)
      .annotate(OpenApi.Identifier, "cancelBookingCommand")
      .annotate(OpenApi.Summary, "Cancel a booking (command)")
      .annotate(
        OpenApi.Description,
        "Cancels the booking: it is kept with `status: cancelled` and its nights are free again, in one " +
          "statement; answers the booking. The rights are `DELETE /bookings/{booking_id}`'s. Order: 401 → 422 → " +
          "`Idempotency-Key` seen before for this user: same request → the first answer, nothing more changes; " +
          "another request → 422 → unknown id → 404 `Бронирование не найдено` → another user's booking and the " +
          "caller is not an admin → 403 `Недостаточно прав для удаления этого бронирования` → already cancelled " +
          "→ 409 `Бронирование уже отменено`."
      )
  )
  .add(
    HttpApiEndpoint.post("changeDates", "/bookings/:booking_id/change-dates")
      .setPath(BookingIdPath)
      .setHeaders(CommandIdempotencyHeaders)
      .setPayload(BookingDates)
      .addSuccess(Booking)
      .addError(NotFound)
      .addError(Forbidden)
      .addError(InvalidDateRange)
      .addError(RoomUnavailable)
      .addError(Conflict)
      .addError(ValidationError)
      .middleware(Authentication)
      .annotate(OpenApi.Identifier, "changeBookingDates")
      .annotate(OpenApi.Summary, "Change a booking's dates")
      .annotate(
        OpenApi.Description,
        "Moves the stay to `date_from` … `date_to` atomically: the new nights are taken and the old ones " +
          "released in one statement, or nothing changes. The price becomes the room's current nightly price × " +
          "the new nights (the same dates again change nothing). Answers the booking. Owner or admin.\n\n" +
          "Order: 401 → 422 (also a stay beyond the limits below) → `Idempotency-Key` seen before for this " +
          "user: same request → the first answer; another request → 422 → unknown id → 404 `Бронирование не " +
          "найдено` → another user's booking and the caller is not an admin → 403 `Недостаточно прав` → " +
          "cancelled → 409 `Бронирование уже отменено` → `date_from` not before `date_to` → 400 `Дата заезда " +
          "должна быть раньше даты выезда` → `date_from` before today (UTC) → 400 `Дата заезда не может быть в " +
          "прошлом` → a new night without a free unit (the booking's own nights count as its own) → 409 " +
          "`Все номера данного типа уже забронированы на ночи: YYYY-MM-DD, …` naming them.\n\n" +
          `Limits (D11): ${STAY_LIMITS_TEXT} A total above 2147483647 is a 422 on \`date_to\`.`
      )
  )
  .addError(RateLimited)
  .annotate(OpenApi.Title, "Бронирования")
  .annotate(
    OpenApi.Description,
    "Bookings of room types for a stay (check-in day to check-out day). Booking and cancelling need a signed-in " +
      "user; the list of all bookings is for admins."
  ) {}

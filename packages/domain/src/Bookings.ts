/**
 * Bookings (docs/api.md §2, §8.7; docs/data.md §1.8, BR-4..BR-8; docs/decisions.md D2).
 */
import { Schema } from "effect"
import { DateString, EXAMPLE_CHECK_IN, EXAMPLE_CHECK_OUT, LaxInt32, modelDoc, Timestamp } from "./Common.js"

/**
 * A booking's state (docs/data.md BR-14): `confirmed` holds its nights; `cancelled` is kept for its history and
 * holds none.
 */
export const BookingStatus = Schema.Literal("confirmed", "cancelled").annotations({
  identifier: "BookingStatus",
  description: "`confirmed` holds its nights; `cancelled` is kept for its history and holds none."
})
export type BookingStatus = typeof BookingStatus.Type

const bookingFields = {
  id: Schema.Int,
  room_id: Schema.Int,
  user_id: Schema.Int,
  date_from: DateString,
  date_to: DateString,
  price: Schema.Int,
  created_at: Timestamp,
  status: BookingStatus
}
export class Booking extends Schema.Class<Booking>("Booking")(
  bookingFields,
  modelDoc(
    bookingFields,
    "A stay from `date_from` (check-in) to `date_to` (check-out, not a night); `price` is the total, fixed " +
      "at booking time (nightly price × nights; a change of dates prices the new stay); `status` its state.",
    {
      id: 1,
      room_id: 1,
      user_id: 1,
      date_from: DateString.make(EXAMPLE_CHECK_IN),
      date_to: DateString.make(EXAMPLE_CHECK_OUT),
      price: 9000,
      created_at: "2026-02-12T10:15:30.123456Z",
      status: "confirmed"
    }
  )
) {}

const bookingInFields = { room_id: LaxInt32, date_from: DateString, date_to: DateString }
export class BookingIn extends Schema.Class<BookingIn>("BookingIn")(
  bookingInFields,
  modelDoc(
    bookingInFields,
    "A stay to book for the caller: at least one night, not starting in the past (UTC); at most " +
      "`MAX_STAY_NIGHTS` nights (default 90), starting at most `BOOKING_HORIZON_DAYS` days after today " +
      "(default 730).",
    {
      room_id: 1,
      date_from: DateString.make(EXAMPLE_CHECK_IN),
      date_to: DateString.make(EXAMPLE_CHECK_OUT)
    }
  )
) {}

/**
 * The answer of `POST /bookings` (docs/decisions.md D15): the original's `{"status": "OK"}`, the new booking's
 * `id` and the booking itself; `Location` names `/bookings/{id}`.
 */
const bookingCreatedFields = { status: Schema.Literal("OK"), id: Schema.Int, booking: Booking }
export class BookingCreated extends Schema.Class<BookingCreated>("BookingCreated")(
  bookingCreatedFields,
  modelDoc(
    bookingCreatedFields,
    "Booked: `id` is the new booking's id, `booking` the booking as stored, and `Location` its address.",
    {
      status: "OK",
      id: 1,
      booking: new Booking({
        id: 1,
        room_id: 1,
        user_id: 1,
        date_from: DateString.make(EXAMPLE_CHECK_IN),
        date_to: DateString.make(EXAMPLE_CHECK_OUT),
        price: 9000,
        created_at: "2026-02-12T10:15:30.123456Z",
        status: "confirmed"
      })
    }
  )
) {}

const bookingDatesFields = { date_from: DateString, date_to: DateString }
/** The body of `POST /bookings/{id}/change-dates` (docs/data.md BR-14). */
export class BookingDates extends Schema.Class<BookingDates>("BookingDates")(
  bookingDatesFields,
  modelDoc(
    bookingDatesFields,
    "The stay's new dates: the same rules as a booking's (at least one night, not starting in the past, UTC; " +
      "at most `MAX_STAY_NIGHTS` nights, starting at most `BOOKING_HORIZON_DAYS` days after today).",
    { date_from: DateString.make(EXAMPLE_CHECK_IN), date_to: DateString.make(EXAMPLE_CHECK_OUT) }
  )
) {}

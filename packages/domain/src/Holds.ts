/**
 * Holds (docs/api.md §8.9; docs/data.md §1.13b, BR-13): units of a room type taken out of the inventory for
 * `HOLD_TTL_SECONDS` while the guest checks out, then confirmed into a booking, released, or expired.
 */
import { Schema } from "effect"
import { DateString, EXAMPLE_CHECK_IN, EXAMPLE_CHECK_OUT, LaxInt32, modelDoc, Timestamp } from "./Common.js"

/** Where a hold stands. Only `active` takes units; a hold past `expires_at` reads `expired` at once. */
export const HoldStatus = Schema.Literal("active", "confirmed", "released", "expired").annotations({
  identifier: "HoldStatus",
  description:
    "`active`: its units are taken until `expires_at`; `confirmed`: turned into the booking `booking_id`; " +
    "`released`: given back by its owner; `expired`: `expires_at` passed before a confirm (its units are free)."
})
export type HoldStatus = typeof HoldStatus.Type

const EXAMPLE_CREATED_AT = "2026-11-01T10:15:30.123456Z"
const EXAMPLE_EXPIRES_AT = "2026-11-01T10:25:30.123456Z"

const holdFields = {
  id: Schema.Int,
  room_id: Schema.Int,
  user_id: Schema.Int,
  date_from: DateString,
  date_to: DateString,
  price: Schema.Int,
  status: HoldStatus,
  expires_at: Timestamp,
  created_at: Timestamp,
  booking_id: Schema.NullOr(Schema.Int)
}
export class Hold extends Schema.Class<Hold>("Hold")(
  holdFields,
  modelDoc(
    holdFields,
    "A room type's unit held for the stay `date_from` … `date_to` until `expires_at` (UTC); `price` is the " +
      "total the booking will carry (nightly price × nights, fixed when the hold was placed); `booking_id` is " +
      "the booking a confirm made (null before).",
    {
      id: 1,
      room_id: 1,
      user_id: 1,
      date_from: DateString.make(EXAMPLE_CHECK_IN),
      date_to: DateString.make(EXAMPLE_CHECK_OUT),
      price: 9000,
      status: "active",
      expires_at: EXAMPLE_EXPIRES_AT,
      created_at: EXAMPLE_CREATED_AT,
      booking_id: null
    }
  )
) {}

const holdInFields = { room_id: LaxInt32, date_from: DateString, date_to: DateString }
export class HoldIn extends Schema.Class<HoldIn>("HoldIn")(
  holdInFields,
  modelDoc(
    holdInFields,
    "A stay to hold for the caller, under a booking's rules: at least one night, not starting in the past " +
      "(UTC); at most `MAX_STAY_NIGHTS` nights (default 90), starting at most `BOOKING_HORIZON_DAYS` days " +
      "after today (default 730).",
    {
      room_id: 1,
      date_from: DateString.make(EXAMPLE_CHECK_IN),
      date_to: DateString.make(EXAMPLE_CHECK_OUT)
    }
  )
) {}

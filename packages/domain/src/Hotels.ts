/**
 * Hotels (docs/api.md §2, §8.5; docs/data.md §1.3). In the API a hotel names its city; responses carry the
 * names of its city and of that city's country.
 */
import { Schema } from "effect"
import { maxChars, modelDoc, Text, TimeString } from "./Common.js"
import { AvailableRoom, Facility } from "./Rooms.js"

const Title = Text.pipe(maxChars(100))
const PostalCode = Text.pipe(maxChars(20))

// --- responses -------------------------------------------------------------------------------------

const hotelFields = {
  id: Schema.Int,
  title: Schema.String,
  address: Schema.String,
  postal_code: Schema.NullOr(Schema.String),
  check_in_time: Schema.NullOr(TimeString),
  check_out_time: Schema.NullOr(TimeString),
  city: Schema.NullOr(Schema.String),
  country: Schema.NullOr(Schema.String)
}
const grandHotel = {
  id: 1,
  title: "Гранд Отель Москва",
  address: "ул. Тверская, 3",
  postal_code: "125009",
  check_in_time: "14:00:00",
  check_out_time: "12:00:00",
  city: "Москва",
  country: "Россия"
}

export class Hotel extends Schema.Class<Hotel>("Hotel")(
  hotelFields,
  modelDoc(hotelFields, "A hotel; `city` and `country` are names.", grandHotel)
) {}

const hotelWithRoomsFields = { ...hotelFields, rooms: Schema.Array(AvailableRoom) }
export class HotelWithRooms extends Schema.Class<HotelWithRooms>("HotelWithRooms")(
  hotelWithRoomsFields,
  modelDoc(
    hotelWithRoomsFields,
    "A hotel with its room types that have free units for the requested stay (`rooms` may be empty).",
    {
      ...grandHotel,
      rooms: [
        new AvailableRoom({
          id: 1,
          hotel_id: 1,
          title: "Стандартный номер",
          description: "Уютный номер с видом на город",
          price: 3000,
          quantity: 3,
          facilities: [new Facility({ id: 1, title: "Wi-Fi" })]
        })
      ]
    }
  )
) {}

// --- request bodies --------------------------------------------------------------------------------

const hotelInFields = {
  title: Title,
  city: Text.annotations({ description: "The city's name (case-insensitive)" }),
  address: Text,
  postal_code: Schema.optional(Schema.NullOr(PostalCode)),
  check_in_time: Schema.optional(Schema.NullOr(TimeString)),
  check_out_time: Schema.optional(Schema.NullOr(TimeString))
}
export class HotelIn extends Schema.Class<HotelIn>("HotelIn")(
  hotelInFields,
  modelDoc(
    hotelInFields,
    "A hotel to create or replace. Times accept `HH:MM`, `HH:MM:SS` or `HH:MM:SS.ffffff`. On create an " +
      "absent or `null` time becomes 14:00:00 / 12:00:00; on PUT an absent time is reset to that default " +
      "and an explicit `null` stores `null`.",
    {
      title: "Гранд Отель Москва",
      city: "Москва",
      address: "ул. Тверская, 3",
      postal_code: "125009",
      check_in_time: "14:00:00",
      check_out_time: "12:00:00"
    }
  )
) {}

// PATCH (docs/api.md H6): only non-null fields are written; `null` means "leave unchanged", as in the original.
const hotelPatchFields = {
  title: Schema.optional(Schema.NullOr(Title)),
  city: Schema.optional(Schema.NullOr(Text)),
  address: Schema.optional(Schema.NullOr(Text)),
  postal_code: Schema.optional(Schema.NullOr(PostalCode)),
  check_in_time: Schema.optional(Schema.NullOr(TimeString)),
  check_out_time: Schema.optional(Schema.NullOr(TimeString))
}
export class HotelPatch extends Schema.Class<HotelPatch>("HotelPatch")(
  hotelPatchFields,
  modelDoc(
    hotelPatchFields,
    "Partial update of a hotel: only non-null fields are written (`null` leaves a field unchanged; " +
      "nothing can be cleared with PATCH).",
    { address: "ул. Тверская, 5", check_in_time: "15:00" }
  )
) {}

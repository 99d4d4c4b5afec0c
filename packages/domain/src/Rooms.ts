/**
 * Facilities and rooms (docs/api.md §2, §8.4, §8.6; docs/data.md §1.4–1.6). A room is a room *type* with
 * `quantity` identical units and a nightly `price`.
 */
import { Schema } from "effect"
import { LaxInt32, LaxNonNegativeInt32, maxChars, modelDoc, Text } from "./Common.js"

const Title = Text.pipe(maxChars(100))
const NonNegative = LaxNonNegativeInt32
const FacilityIds = Schema.NullOr(Schema.Array(LaxInt32)).annotations({ description: "Facility ids, or null" })

// --- facilities ------------------------------------------------------------------------------------

const facilityFields = { id: Schema.Int, title: Schema.String }
export class Facility extends Schema.Class<Facility>("Facility")(
  facilityFields,
  modelDoc(facilityFields, "A free-text amenity label that rooms link to.", { id: 1, title: "Wi-Fi" })
) {}

const facilityInFields = { title: Title }
export class FacilityIn extends Schema.Class<FacilityIn>("FacilityIn")(
  facilityInFields,
  modelDoc(facilityInFields, "A facility to create (titles need not be unique).", { title: "Кондиционер" })
) {}

// --- rooms -----------------------------------------------------------------------------------------

const roomFields = {
  id: Schema.Int,
  hotel_id: Schema.Int,
  title: Schema.String,
  description: Schema.NullOr(Schema.String),
  price: Schema.Int,
  quantity: Schema.Int,
  facilities: Schema.Array(Facility)
}
const wifi = new Facility({ id: 1, title: "Wi-Fi" })
const airConditioning = new Facility({ id: 2, title: "Кондиционер" })

export class Room extends Schema.Class<Room>("Room")(
  roomFields,
  modelDoc(roomFields, "A room type: `price` per night, `quantity` identical units, facilities by id.", {
    id: 1,
    hotel_id: 1,
    title: "Стандартный номер",
    description: "Уютный номер с видом на город",
    price: 3000,
    quantity: 5,
    facilities: [wifi, airConditioning]
  })
) {}

export class AvailableRoom extends Schema.Class<AvailableRoom>("AvailableRoom")(
  roomFields,
  modelDoc(
    roomFields,
    "A room type with free units for the requested stay: `quantity` is the smallest number of free units " +
      "over its nights (always > 0).",
    {
      id: 1,
      hotel_id: 1,
      title: "Стандартный номер",
      description: "Уютный номер с видом на город",
      price: 3000,
      quantity: 3,
      facilities: [wifi]
    }
  )
) {}

// POST/PUT. On PUT a `null` description keeps the stored one; `facility_ids` absent/`null` keeps the
// links, `[]` removes them all, a list replaces them (docs/api.md R5).
const roomInFields = {
  title: Title,
  description: Schema.optional(Schema.NullOr(Text)),
  price: NonNegative,
  quantity: NonNegative,
  facility_ids: Schema.optional(FacilityIds)
}
export class RoomIn extends Schema.Class<RoomIn>("RoomIn")(
  roomInFields,
  modelDoc(
    roomInFields,
    "A room type to create or replace. On PUT, a `null` description keeps the stored one and " +
      "`facility_ids` absent or `null` keeps the links (`[]` removes them all).",
    {
      title: "Стандартный номер",
      description: "Уютный номер с видом на город",
      price: 3000,
      quantity: 5,
      facility_ids: [1, 2]
    }
  )
) {}

// PATCH: fields present are written; `null` clears the description, while `null` for title, price or
// quantity (NOT NULL) is a 422 (D9). `facility_ids` is accepted and ignored, as in the original.
const roomPatchFields = {
  title: Schema.optional(Title),
  description: Schema.optional(Schema.NullOr(Text)),
  price: Schema.optional(NonNegative),
  quantity: Schema.optional(NonNegative),
  facility_ids: Schema.optional(FacilityIds)
}
export class RoomPatch extends Schema.Class<RoomPatch>("RoomPatch")(
  roomPatchFields,
  modelDoc(
    roomPatchFields,
    "Partial update of a room type: only the fields sent are written; `null` clears the description. " +
      "`facility_ids` is accepted and ignored (use PUT to change links).",
    { price: 3500, quantity: 4 }
  )
) {}

/**
 * Path, query and header schemas of the endpoints (docs/api.md §1.6, §1.7, §8).
 * No identifiers on these structs: OpenAPI lists their fields as parameters only when inlined.
 */
import { Schema } from "effect"
import { DateString, PaginationParams, PathId, QueryId } from "./Common.js"

// --- path --------------------------------------------------------------------------------------------

export const UserIdPath = Schema.Struct({ user_id: PathId })
export const HotelIdPath = Schema.Struct({ hotel_id: PathId })
export const HotelRoomPath = Schema.Struct({ hotel_id: PathId, room_id: PathId })
export const BookingIdPath = Schema.Struct({ booking_id: PathId })
export const FacilityIdPath = Schema.Struct({ facility_id: PathId })
export const ImageIdPath = Schema.Struct({ image_id: PathId })
export const CountryIdPath = Schema.Struct({ country_id: PathId })
export const CityIdPath = Schema.Struct({ city_id: PathId })

// --- query -------------------------------------------------------------------------------------------

/** Partial, case-insensitive; `%` and `_` act as wildcards, an empty value matches everything (docs/api.md §1.7). */
const contains = (what: string) =>
  Schema.optional(Schema.String.annotations({ description: `${what} contains this text (case-insensitive)` }))

// `QueryId` and `DateString` document themselves through a `jsonSchema` override, which a plain
// `description` annotation does not reach: the description goes into the override.
const queryId = (description: string) =>
  QueryId.annotations({ jsonSchema: { type: "integer", format: "int32", description } })

const requiredDate = (description: string) =>
  DateString.annotations({ jsonSchema: { type: "string", format: "date", description, examples: ["2026-12-01"] } })

export const PageQuery = Schema.Struct(PaginationParams)

export const UsersQuery = Schema.Struct({
  ...PaginationParams,
  email: Schema.optional(
    Schema.String.annotations({ description: "Exact, case-sensitive match on the stored (normalised) e-mail" })
  )
})

export const HotelsQuery = Schema.Struct({
  ...PaginationParams,
  title: contains("Title"),
  city: contains("City name"),
  city_id: Schema.optional(queryId("Only hotels of this city")),
  sort_by: Schema.optional(
    Schema.Literal("id", "title", "city").annotations({ description: "Sort key (default `id`); `city` = city name" })
  ),
  order: Schema.optional(Schema.Literal("asc", "desc").annotations({ description: "Sort order (default `asc`)" }))
})

export const AvailableHotelsQuery = Schema.Struct({
  ...PaginationParams,
  date_from: requiredDate("Check-in day"),
  date_to: requiredDate("Check-out day (after `date_from`)"),
  hotel_id: Schema.optional(queryId("Only this hotel (an unknown id gives `[]`)")),
  title: contains("Hotel title"),
  city: contains("City name")
})

export const RoomsQuery = Schema.Struct({ ...PaginationParams, title: contains("Title") })

/** Not paginated (docs/api.md R2). */
export const StayQuery = Schema.Struct({
  date_from: requiredDate("Check-in day"),
  date_to: requiredDate("Check-out day (after `date_from`)")
})

export const FacilitiesQuery = Schema.Struct({ ...PaginationParams, title: contains("Title") })

export const CountriesQuery = Schema.Struct({ ...PaginationParams, name: contains("Name") })

export const CitiesQuery = Schema.Struct({
  ...PaginationParams,
  name: contains("Name"),
  country_id: Schema.optional(queryId("Only cities of this country"))
})

// --- headers -----------------------------------------------------------------------------------------

/** D2: node lower-cases header names. */
export const IdempotencyHeaders = Schema.Struct({
  "idempotency-key": Schema.optional(
    Schema.String.pipe(Schema.minLength(1), Schema.maxLength(255)).annotations({
      description:
        "Optional. A retry with the same key by the same user returns the first result and books nothing new " +
        "(keys are kept at least 24 h)."
    })
  )
})

/**
 * Path, query and header schemas of the endpoints (docs/api.md §1.6, §1.7, §8).
 * No identifiers on these structs: OpenAPI lists their fields as parameters only when inlined.
 */
import { Schema } from "effect"
import {
  DATE_RANGE,
  DateString,
  EXAMPLE_CHECK_IN,
  EXAMPLE_CHECK_OUT,
  INT32,
  PaginationParams,
  PathBigId,
  PathId,
  QueryId,
  Text
} from "./Common.js"

// --- path --------------------------------------------------------------------------------------------

export const UserIdPath = Schema.Struct({ user_id: PathId })
export const HotelIdPath = Schema.Struct({ hotel_id: PathId })
export const HotelRoomPath = Schema.Struct({ hotel_id: PathId, room_id: PathId })
export const BookingIdPath = Schema.Struct({ booking_id: PathId })
export const HoldIdPath = Schema.Struct({ hold_id: PathId })
export const FacilityIdPath = Schema.Struct({ facility_id: PathId })
export const ImageIdPath = Schema.Struct({ image_id: PathId })
export const CountryIdPath = Schema.Struct({ country_id: PathId })
export const CityIdPath = Schema.Struct({ city_id: PathId })
export const WebhookIdPath = Schema.Struct({ webhook_id: PathId })
export const WebhookDeliveryPath = Schema.Struct({ webhook_id: PathId, delivery_id: PathBigId })

// --- query -------------------------------------------------------------------------------------------

/** Partial, case-insensitive; `%` and `_` act as wildcards, an empty value matches everything (docs/api.md §1.7). */
const contains = (what: string) =>
  Schema.optional(Text.annotations({ description: `${what} contains this text (case-insensitive)` }))

// `QueryId` and `DateString` document themselves through a `jsonSchema` override, which a plain
// `description` annotation does not reach: the description goes into the override.
const queryId = (description: string) =>
  QueryId.annotations({ jsonSchema: { type: "integer", format: "int32", ...INT32, description } })

const requiredDate = (description: string, example: string) =>
  DateString.annotations({
    jsonSchema: {
      type: "string",
      format: "date",
      description: `${description}; a date from ${DATE_RANGE.first} to ${DATE_RANGE.last}`,
      examples: [example]
    }
  })

/** The stay limits of docs/decisions.md D11, as both searches and bookings state them. */
export const STAY_LIMITS_TEXT =
  "A stay is at most `MAX_STAY_NIGHTS` nights (default 90) and begins at most `BOOKING_HORIZON_DAYS` days " +
  "after today, UTC (default 730); beyond either → 422 at the date (`date_to` for the length, `date_from` " +
  "for the start) whose `msg` names the limit."

const CHECK_IN = "Check-in day, at most `BOOKING_HORIZON_DAYS` days after today (default 730)"
const CHECK_OUT = "Check-out day, after `date_from` and at most `MAX_STAY_NIGHTS` nights later (default 90)"

export const PageQuery = Schema.Struct(PaginationParams)

/** The booking lists (docs/data.md BR-14): confirmed bookings unless `status` says otherwise. */
export const BookingsQuery = Schema.Struct({
  ...PaginationParams,
  status: Schema.optional(
    Schema.Literal("confirmed", "cancelled").annotations({
      description: "Only bookings in this state (default `confirmed`)"
    })
  )
})

export const UsersQuery = Schema.Struct({
  ...PaginationParams,
  email: Schema.optional(
    Text.annotations({ description: "Exact, case-sensitive match on the stored (normalised) e-mail" })
  )
})

/**
 * `GET /hotels` lists hotels and does not search by dates; the original ignored `date_from`/`date_to` there,
 * which reads as a search that silently found everything. They are refused (422 at the parameter) with a
 * message naming the search that does take them (docs/api.md §8.5).
 */
const HOTELS_NOT_BY_DATE =
  "GET /hotels does not filter by dates: hotels with rooms free for a stay are listed by " +
  "GET /hotels/rooms/available?date_from=…&date_to=… (one hotel's rooms: GET /hotels/{hotel_id}/rooms/available)"

const searchedElsewhere = Schema.optional(
  Schema.String.pipe(Schema.filter(() => false, { message: () => HOTELS_NOT_BY_DATE })).annotations({
    jsonSchema: {
      type: "string",
      format: "date",
      deprecated: true,
      description: `Not accepted here (422): ${HOTELS_NOT_BY_DATE}.`
    }
  })
)

export const HotelsQuery = Schema.Struct({
  ...PaginationParams,
  title: contains("Title"),
  city: contains("City name"),
  city_id: Schema.optional(queryId("Only hotels of this city")),
  sort_by: Schema.optional(
    Schema.Literal("id", "title", "city").annotations({ description: "Sort key (default `id`); `city` = city name" })
  ),
  order: Schema.optional(Schema.Literal("asc", "desc").annotations({ description: "Sort order (default `asc`)" })),
  date_from: searchedElsewhere,
  date_to: searchedElsewhere
})

export const AvailableHotelsQuery = Schema.Struct({
  ...PaginationParams,
  date_from: requiredDate(CHECK_IN, EXAMPLE_CHECK_IN),
  date_to: requiredDate(CHECK_OUT, EXAMPLE_CHECK_OUT),
  hotel_id: Schema.optional(queryId("Only this hotel (an unknown id gives `[]`)")),
  title: contains("Hotel title"),
  city: contains("City name")
})

export const RoomsQuery = Schema.Struct({ ...PaginationParams, title: contains("Title") })

/** Not paginated (docs/api.md R2). */
export const StayQuery = Schema.Struct({
  date_from: requiredDate(CHECK_IN, EXAMPLE_CHECK_IN),
  date_to: requiredDate(CHECK_OUT, EXAMPLE_CHECK_OUT)
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
    Text.pipe(Schema.minLength(1), Schema.maxLength(255)).annotations({
      description:
        "Optional. A retry with the same key by the same user returns the first result and books nothing new " +
        "(keys are kept at least 24 h)."
    })
  )
})

/** `Idempotency-Key` of `POST /holds`: a retry answers the first hold and holds nothing new. */
export const HoldIdempotencyHeaders = Schema.Struct({
  "idempotency-key": Schema.optional(
    Text.pipe(Schema.minLength(1), Schema.maxLength(255)).annotations({
      description:
        "Optional. A retry with the same key by the same user returns the first hold and holds nothing new " +
        "(keys are kept at least 24 h, and shared with `POST /bookings`: a key is for one request)."
    })
  )
})

/** `Idempotency-Key` of the booking commands (cancel, change-dates; docs/data.md BR-14). */
export const CommandIdempotencyHeaders = Schema.Struct({
  "idempotency-key": Schema.optional(
    Text.pipe(Schema.minLength(1), Schema.maxLength(255)).annotations({
      description:
        "Optional. A retry with the same key by the same user answers the first result and changes nothing " +
        "more; the same key with another request is a 422 (keys are kept at least 24 h, one set per user " +
        "shared with `POST /bookings`)."
    })
  )
})

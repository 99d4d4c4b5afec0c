/**
 * Hotels and the availability search across hotels (docs/api.md §8.5; docs/decisions.md D1, D2, D7).
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { Created, CREATED, Message } from "./Common.js"
import { Conflict, IntegrityViolation, InvalidDateRange, NotFound, RateLimited, ValidationError } from "./Errors.js"
import { Hotel, HotelIn, HotelPatch, HotelWithRooms } from "./Hotels.js"
import { AvailableHotelsQuery, HotelIdPath, HotelsQuery, STAY_LIMITS_TEXT } from "./Params.js"
import { AdminAuthentication } from "./Security.js"
import { conditionalRead, locatesCreated } from "./OpenApiHeaders.js"

const ADMIN_ONLY = "Admin only (D1; the original let anyone write)."
const CITY_BY_NAME =
  "`city` is a city name matched case-insensitively over all countries; when several cities share it, the " +
  "one with the lowest id is used (the original crashed with a 500)."

export class HotelsApi extends HttpApiGroup.make("hotels")
  .add(
    HttpApiEndpoint.get("list", "/hotels")
      .setUrlParams(HotelsQuery)
      .addSuccess(Schema.Array(Hotel))
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "listHotels")
      .annotate(OpenApi.Transform, conditionalRead)
      .annotate(OpenApi.Summary, "List hotels")
      .annotate(
        OpenApi.Description,
        "Hotels, paginated, filtered by `title` and `city` (partial, case-insensitive) and `city_id`, sorted by " +
          "`sort_by` (`id`, `title` or the city's name) in `order`.\n\n" +
          "Differs from the original: `sort_by=city` with `city_id` no longer duplicates rows (a proper join); " +
          "`date_from`/`date_to`, which the original ignored here, are a 422 naming the search that takes them " +
          "(`GET /hotels/rooms/available`)."
      )
  )
  // Declared before `/hotels/:hotel_id`: the literal path wins (docs/api.md §13).
  .add(
    HttpApiEndpoint.get("available", "/hotels/rooms/available")
      .setUrlParams(AvailableHotelsQuery)
      .addSuccess(Schema.Array(HotelWithRooms))
      .addError(InvalidDateRange)
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "searchAvailableHotels")
      .annotate(OpenApi.Summary, "Search free rooms")
      .annotate(
        OpenApi.Description,
        "Every hotel matching the filters (paginated, by id) with its room types that have a free unit on every " +
          "night from `date_from` to `date_to`; a hotel without free rooms is listed with `rooms: []`. Each room's " +
          "`quantity` is its smallest number of free units over those nights.\n\n" +
          "Order: 422 (also a stay beyond the limits below) → `date_from` not before `date_to` → 400 `Дата " +
          "начала периода должна быть раньше даты окончания`.\n\n" +
          `Limits (D11): the same as a booking's. ${STAY_LIMITS_TEXT} Past nights may be searched.\n\n` +
          "Differs from the original (D2): availability is counted per night; the original counted every " +
          "overlapping booking once, so back-to-back stays blocked two units. Never cached."
      )
  )
  .add(
    HttpApiEndpoint.get("get", "/hotels/:hotel_id")
      .setPath(HotelIdPath)
      .addSuccess(Hotel)
      .addError(NotFound)
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "getHotel")
      .annotate(OpenApi.Transform, conditionalRead)
      .annotate(OpenApi.Summary, "Get a hotel")
      .annotate(OpenApi.Description, "One hotel. Unknown id → 404 `Отель не найден`; a non-integer id → 422.")
  )
  .add(
    HttpApiEndpoint.post("create", "/hotels")
      .setPayload(HotelIn)
      .addSuccess(Created)
      .addError(NotFound)
      .addError(Conflict)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "createHotel")
      .annotate(OpenApi.Transform, locatesCreated("/hotels/{hotel_id}"))
      .annotate(OpenApi.Summary, "Create a hotel")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} ${CREATED}\n\n` +
          "Order: 401/403 → 422 → city not found → 404 `Город с название '<city>' не найден` → title already used " +
          "(exact, case-sensitive) → 409 `Отель с название '<title>' уже существует`. Absent or `null` times " +
          `become 14:00:00 / 12:00:00.\n\n${CITY_BY_NAME}`
      )
  )
  .add(
    HttpApiEndpoint.put("update", "/hotels/:hotel_id")
      .setPath(HotelIdPath)
      .setPayload(HotelIn)
      .addSuccess(Message)
      .addError(NotFound)
      .addError(Conflict)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "updateHotel")
      .annotate(OpenApi.Summary, "Replace a hotel")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Full replacement: an absent \`postal_code\` is stored as \`null\`, absent times are reset ` +
          "to 14:00:00 / 12:00:00, explicit `null` times are stored as `null`.\n\n" +
          "Order: 401/403 → 422 → unknown hotel → 404 `Отель с ID {id} не найден` → city not found → 404 → " +
          `title changed and used by another hotel → 409.\n\n${CITY_BY_NAME}`
      )
  )
  .add(
    HttpApiEndpoint.patch("patch", "/hotels/:hotel_id")
      .setPath(HotelIdPath)
      .setPayload(HotelPatch)
      .addSuccess(Message)
      .addError(NotFound)
      .addError(Conflict)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "patchHotel")
      .annotate(OpenApi.Summary, "Partly update a hotel")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Writes only the non-null fields sent (\`null\` leaves a field unchanged, as in the ` +
          "original); `{}` → 200.\n\n" +
          "Order: 401/403 → 422 → unknown hotel → 404 `Отель с ID {id} не найден` → title sent, changed and " +
          "taken → 409 → city sent and not found → 404."
      )
  )
  .add(
    HttpApiEndpoint.del("delete", "/hotels/:hotel_id")
      .setPath(HotelIdPath)
      .addSuccess(Message)
      .addError(NotFound)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "deleteHotel")
      .annotate(OpenApi.Summary, "Delete a hotel")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Unknown id → 404 \`Отель не найден\`. Deletes its room types with their bookings and ` +
          "facility links, and its image links (the image rows and files stay, as in the original)."
      )
  )
  .addError(RateLimited)
  .annotate(OpenApi.Title, "Отели")
  .annotate(
    OpenApi.Description,
    "Hotels and the availability search. Reads are public and always fresh, with a strong `ETag` " +
      "(304 on a matching `If-None-Match`, D7); writes are for admins."
  ) {}

/**
 * Room types of a hotel, under `/hotels/{hotel_id}/rooms` (docs/api.md §8.6; docs/decisions.md D1, D2).
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { Created, CREATED, Message } from "./Common.js"
import {
  BadRequest,
  Conflict,
  IntegrityViolation,
  InvalidDateRange,
  NotFound,
  RateLimited,
  ValidationError
} from "./Errors.js"
import { HotelIdPath, HotelRoomPath, RoomsQuery, STAY_LIMITS_TEXT, StayQuery } from "./Params.js"
import { AvailableRoom, Room, RoomIn, RoomPatch } from "./Rooms.js"
import { AdminAuthentication } from "./Security.js"
import { conditionalRead, locatesCreated } from "./OpenApiHeaders.js"

const ADMIN_ONLY = "Admin only (D1; the original let anyone write)."
const WRITE_CHECKS =
  "401/403 → 422 → unknown hotel → 404 `Отель с ID {id} не найден` → unknown room → 404 `Номер с ID {id} не " +
  "найден` → room of another hotel → 400 `Номер не принадлежит указанному отелю`"
const QUANTITY_RULE =
  "Lowering `quantity` below the units already sold on a future night → 409 (D2; the original allowed it " +
  "and left the room overbooked)."

export class RoomsApi extends HttpApiGroup.make("rooms")
  .add(
    HttpApiEndpoint.get("list", "/hotels/:hotel_id/rooms")
      .setPath(HotelIdPath)
      .setUrlParams(RoomsQuery)
      .addSuccess(Schema.Array(Room))
      .addError(NotFound)
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "listRooms")
      .annotate(OpenApi.Transform, conditionalRead)
      .annotate(OpenApi.Summary, "List a hotel's rooms")
      .annotate(
        OpenApi.Description,
        "The hotel's room types, by id, paginated, filtered by `title` (partial, case-insensitive). " +
          "Unknown hotel → 404 `Отель не найден`."
      )
  )
  // Declared before `/hotels/:hotel_id/rooms/:room_id`: the literal path wins (docs/api.md §13).
  .add(
    HttpApiEndpoint.get("available", "/hotels/:hotel_id/rooms/available")
      .setPath(HotelIdPath)
      .setUrlParams(StayQuery)
      .addSuccess(Schema.Array(AvailableRoom))
      .addError(InvalidDateRange)
      .addError(NotFound)
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "listAvailableRooms")
      .annotate(OpenApi.Summary, "A hotel's free rooms")
      .annotate(
        OpenApi.Description,
        "The hotel's room types with a free unit on every night of the stay; `quantity` is the smallest number " +
          "of free units over those nights. Not paginated.\n\n" +
          "Order: 422 (also a stay beyond the limits below) → `date_from` not before `date_to` → 400 `Дата " +
          "начала периода должна быть раньше даты окончания` (before the hotel check) → unknown hotel → 404 " +
          "`Отель не найден`.\n\n" +
          `Limits (D11): the same as a booking's. ${STAY_LIMITS_TEXT} Past nights may be searched.\n\n` +
          "Differs from the original (D2): counted per night, not per overlapping booking."
      )
  )
  .add(
    HttpApiEndpoint.get("get", "/hotels/:hotel_id/rooms/:room_id")
      .setPath(HotelRoomPath)
      .addSuccess(Room)
      .addError(NotFound)
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "getRoom")
      .annotate(OpenApi.Transform, conditionalRead)
      .annotate(OpenApi.Summary, "Get a room")
      .annotate(
        OpenApi.Description,
        "One room type. Order: 422 → unknown hotel → 404 `Отель не найден` → unknown room → 404 `Номер не " +
          "найден` → room of another hotel → 404 `Номер не принадлежит указанному отелю`."
      )
  )
  .add(
    HttpApiEndpoint.post("create", "/hotels/:hotel_id/rooms")
      .setPath(HotelIdPath)
      .setPayload(RoomIn)
      .addSuccess(Created)
      .addError(NotFound)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "createRoom")
      .annotate(OpenApi.Transform, locatesCreated("/hotels/{hotel_id}/rooms/{room_id}"))
      .annotate(OpenApi.Summary, "Create a room")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Creates the room type and links its facilities in one transaction. ${CREATED}\n\n` +
          "Order: 401/403 → 422 → unknown hotel → 404 `Отель с ID {id} не найден` → any unknown facility → 404 " +
          "`Удобство с ID {id} не найден` and nothing is created. Repeated facility ids are linked once."
      )
  )
  .add(
    HttpApiEndpoint.put("update", "/hotels/:hotel_id/rooms/:room_id")
      .setPath(HotelRoomPath)
      .setPayload(RoomIn)
      .addSuccess(Message)
      .addError(BadRequest)
      .addError(NotFound)
      .addError(Conflict)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "updateRoom")
      .annotate(OpenApi.Summary, "Replace a room")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Writes \`title\`, \`price\`, \`quantity\`, and \`description\` unless it is \`null\`; then, ` +
          "if `facility_ids` is not `null`, makes the links exactly that set (`[]` removes all). Atomic.\n\n" +
          `Order: ${WRITE_CHECKS} → unknown facility → 404 \`Удобство с ID {id} не найден\` → quantity rule.\n\n` +
          QUANTITY_RULE
      )
  )
  .add(
    HttpApiEndpoint.patch("patch", "/hotels/:hotel_id/rooms/:room_id")
      .setPath(HotelRoomPath)
      .setPayload(RoomPatch)
      .addSuccess(Message)
      .addError(BadRequest)
      .addError(NotFound)
      .addError(Conflict)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "patchRoom")
      .annotate(OpenApi.Summary, "Partly update a room")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Writes the fields sent among \`title\`, \`description\`, \`price\`, \`quantity\`; \`null\` ` +
          "clears the description. `facility_ids` is accepted and ignored, as in the original. `{}` → 200.\n\n" +
          `Order: ${WRITE_CHECKS} → quantity rule.\n\n` +
          `Differs from the original: \`null\` for \`title\`, \`price\` or \`quantity\` is a 422 (D9; it was a 409). ` +
          QUANTITY_RULE
      )
  )
  .add(
    HttpApiEndpoint.del("delete", "/hotels/:hotel_id/rooms/:room_id")
      .setPath(HotelRoomPath)
      .addSuccess(Message)
      .addError(BadRequest)
      .addError(NotFound)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "deleteRoom")
      .annotate(OpenApi.Summary, "Delete a room")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Deletes the room type with its bookings and facility links.\n\n` +
          "Order: 401/403 → 422 → unknown hotel → 404 `Отель с ID {id} не найден` → unknown room → 404 `Номер не " +
          "найден` → room of another hotel → 400 `Номер не принадлежит указанному отелю`."
      )
  )
  .addError(RateLimited)
  .annotate(OpenApi.Title, "Номера")
  .annotate(
    OpenApi.Description,
    "Room types of a hotel (a title, a nightly price and a number of identical units) and their availability. " +
      "Reads are public with a strong `ETag` (D7); writes are for admins."
  ) {}

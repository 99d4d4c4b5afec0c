/**
 * Holds (docs/api.md §8.9; docs/data.md BR-13): a checkout flow's reservation that expires by itself.
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import { Booking } from "./Bookings.js"
import {
  HoldExpired,
  HoldNotActive,
  IntegrityViolation,
  InvalidDateRange,
  NotFound,
  RateLimited,
  RoomUnavailable,
  TooManyHolds,
  ValidationError,
  Conflict
} from "./Errors.js"
import { Hold, HoldIn } from "./Holds.js"
import { locatesCreated } from "./OpenApiHeaders.js"
import { HoldIdempotencyHeaders, HoldIdPath, STAY_LIMITS_TEXT } from "./Params.js"
import { Authentication, DeferredAuthentication } from "./Security.js"

const OWNER_ONLY =
  "For the hold's owner or an admin; anyone else gets the 404 of a missing hold (nobody learns which ids exist)."

export class HoldsApi extends HttpApiGroup.make("holds")
  .add(
    HttpApiEndpoint.post("create", "/holds")
      .setHeaders(HoldIdempotencyHeaders)
      .setPayload(HoldIn)
      .addSuccess(Hold, { status: 201 })
      .addError(NotFound)
      .addError(InvalidDateRange)
      .addError(TooManyHolds)
      .addError(RoomUnavailable)
      .addError(Conflict)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      // signed in; the session checked by the hold's own statement (D13)
      .middleware(DeferredAuthentication)
      .annotate(OpenApi.Identifier, "createHold")
      .annotate(OpenApi.Transform, locatesCreated("/holds/{hold_id}"))
      .annotate(OpenApi.Summary, "Hold a room")
      .annotate(
        OpenApi.Description,
        "Takes one unit of a room type out of the inventory for the caller until `expires_at` (now + " +
          "`HOLD_TTL_SECONDS`, default 600 s), while the guest checks out; answers 201 with the hold " +
          '(`status: "active"`, `price` = nightly price × nights) and `Location: /holds/{id}`. Confirm it ' +
          "(`POST /holds/{id}/confirm`) to book, release it (`DELETE /holds/{id}`), or let it expire: its units " +
          "then count as free at once, in bookings and searches alike, even before the sweep records it.\n\n" +
          "Order: 401 → 422 (also a stay beyond the limits below) → `Idempotency-Key` seen before for this user: " +
          "same body → the first hold again, nothing new held; another body → 422 → unknown room → 404 " +
          "`Номер с ID {id} не найден` → `date_from` not before `date_to` → 400 `Дата заезда должна быть " +
          "раньше даты выезда` → `date_from` before today (UTC) → 400 `Дата заезда не может быть в прошлом` → " +
          "the caller has `MAX_ACTIVE_HOLDS_PER_USER` (default 5) active holds → 409 `/problems/too-many-holds` " +
          "→ no free unit on some night (bookings and active holds both take units) → 409 " +
          "`/problems/room-unavailable`.\n\n" +
          `Limits (D11), as for a booking: ${STAY_LIMITS_TEXT}`
      )
  )
  .add(
    HttpApiEndpoint.get("get", "/holds/:hold_id")
      .setPath(HoldIdPath)
      .addSuccess(Hold)
      .addError(NotFound)
      .addError(ValidationError)
      .middleware(Authentication)
      .annotate(OpenApi.Identifier, "getHold")
      .annotate(OpenApi.Summary, "Get a hold")
      .annotate(
        OpenApi.Description,
        `The hold and where it stands; an active hold past \`expires_at\` reads \`expired\`. ${OWNER_ONLY} ` +
          "Order: 401 → 422 → 404 `Удержание не найдено`."
      )
  )
  .add(
    HttpApiEndpoint.post("confirm", "/holds/:hold_id/confirm")
      .setPath(HoldIdPath)
      .addSuccess(Booking)
      .addError(NotFound)
      .addError(HoldNotActive)
      .addError(HoldExpired)
      .addError(ValidationError)
      // signed in; the session and the role checked by the confirm's own statement (D13)
      .middleware(DeferredAuthentication)
      .annotate(OpenApi.Identifier, "confirmHold")
      .annotate(OpenApi.Transform, locatesCreated("/bookings/{booking_id}"))
      .annotate(OpenApi.Summary, "Confirm a hold")
      .annotate(
        OpenApi.Description,
        "Turns the active hold into a booking of its owner, at the hold's `price`, without a new capacity check: " +
          "the held units become the booking's in one statement. Answers the booking; confirming a confirmed hold " +
          "again answers the same booking (a retry is safe). A confirm racing the expiry has exactly one " +
          `outcome: booked, or 410. ${OWNER_ONLY}\n\n` +
          "Order: 401 → 422 → 404 `Удержание не найдено` → released → 409 `/problems/hold-not-active` → past " +
          "`expires_at` → 410 `/problems/hold-expired` (`Срок удержания истёк, номер освобождён`) → its booking " +
          "was cancelled since → 404 `Бронирование не найдено`."
      )
  )
  .add(
    HttpApiEndpoint.del("release", "/holds/:hold_id")
      .setPath(HoldIdPath)
      .addSuccess(Hold)
      .addError(NotFound)
      .addError(HoldNotActive)
      .addError(ValidationError)
      .middleware(Authentication)
      .annotate(OpenApi.Identifier, "releaseHold")
      .annotate(OpenApi.Summary, "Release a hold")
      .annotate(
        OpenApi.Description,
        "Gives the hold's units back at once and answers the hold (`released`; `expired` if `expires_at` had " +
          `passed). Releasing a released or expired hold again changes nothing and answers it. ${OWNER_ONLY}\n\n` +
          "Order: 401 → 422 → 404 `Удержание не найдено` → confirmed → 409 `/problems/hold-not-active`."
      )
  )
  .addError(RateLimited)
  .annotate(OpenApi.Title, "Удержания")
  .annotate(
    OpenApi.Description,
    "Holds: a unit of a room type reserved for a few minutes while the guest checks out, confirmed into a " +
      "booking, released, or expired by itself. Signed-in users; an admin may read, confirm and release anyone's."
  ) {}

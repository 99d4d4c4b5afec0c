import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ShumApi } from "@shum/domain/Api"
import { RoomUnavailable } from "@shum/domain/Errors"
import type { Hold } from "@shum/domain/Holds"
import { Messages } from "@shum/domain/Messages"
import { CurrentUser } from "@shum/domain/Security"
import { withRequestSession } from "../Auth/DeferredSession.js"
import { Effect } from "effect"
import { closedGroup } from "../Http/ClosedGroup.js"
import { problemResponse } from "../Http/ErrorMapping.js"
import { locateCreated } from "../Http/Location.js"
import { bookingResponse } from "../Bookings/BookingsHttp.js"
import { HoldsService } from "./HoldsService.js"

/**
 * `POST /holds`' sold-out 409, encoded once: the problem document `HttpApi` writes for `RoomUnavailable` with
 * its one message (409, `application/problem+json`, the same bytes: `Holds.test.ts`), answered by the handler
 * instead of failing through `HttpApi`'s error encoding — the union of every error schema of the API, under the
 * request's whole context provided again, after the error mapping's look at it. In a sell-out every other hold
 * is this answer (bench/README.md, "Holds").
 */
const soldOut = problemResponse(new RoomUnavailable({ detail: Messages.roomSoldOut }))
const isSoldOut = (error: unknown): error is RoomUnavailable =>
  error instanceof RoomUnavailable && error.detail === Messages.roomSoldOut

const HOLD_STATUSES: ReadonlySet<unknown> = new Set(["active", "confirmed", "released", "expired"])

/**
 * `POST /holds`' answer as `HttpApi` encodes a `Hold` — `201`, `application/json`, the model's field order (`id`,
 * `room_id`, `user_id`, `date_from`, `date_to`, `price`, `status`, `expires_at`, `created_at`, `booking_id`) —
 * without running the encoding's schema over it, as `POST /bookings`' answer is (`bookingCreatedResponse`,
 * bench/README.md "Issue 18 and 19: the write path"). Only a hold whose every field is what the schema allows is
 * written so: safe integers, the stay's dates the request's own (decoded `DateString`s), a known status, string
 * timestamps, a null or integer `booking_id`; anything else is left to `HttpApi`, whose encoding refuses it
 * (500) as before. `test/unit/WriteAnswers.test.ts` checks the bytes are the encoding's.
 */
export const holdCreatedResponse = (
  hold: Hold,
  stay: { readonly room_id: number; readonly date_from: string; readonly date_to: string }
): HttpServerResponse.HttpServerResponse | Hold => {
  if (
    hold.room_id !== stay.room_id ||
    hold.date_from !== stay.date_from ||
    hold.date_to !== stay.date_to ||
    !Number.isSafeInteger(hold.id) ||
    !Number.isSafeInteger(hold.room_id) ||
    !Number.isSafeInteger(hold.user_id) ||
    !Number.isSafeInteger(hold.price) ||
    !HOLD_STATUSES.has(hold.status) ||
    typeof hold.expires_at !== "string" ||
    typeof hold.created_at !== "string" ||
    (hold.booking_id !== null && !Number.isSafeInteger(hold.booking_id))
  ) {
    return hold
  }
  return HttpServerResponse.unsafeJson(
    {
      id: hold.id,
      room_id: hold.room_id,
      user_id: hold.user_id,
      date_from: hold.date_from,
      date_to: hold.date_to,
      price: hold.price,
      status: hold.status,
      expires_at: hold.expires_at,
      created_at: hold.created_at,
      booking_id: hold.booking_id
    },
    { status: 201 }
  )
}

/**
 * The holds' group, built by `closedGroup`: its handlers took their services when it was built, so each call
 * merges only the group's middlewares into the handler's context, not the application's every service (issue 19).
 */
export const HoldsLive = closedGroup(ShumApi, "holds", (handlers) =>
  Effect.gen(function* () {
    const holds = yield* HoldsService
    const locate = yield* locateCreated
    return handlers
      .handle("create", ({ headers, payload }) =>
        // the session is checked by the hold's own statement (DeferredAuthentication, docs/decisions.md D13)
        withRequestSession((session) => holds.create(session, payload, headers["idempotency-key"])).pipe(
          Effect.flatMap((hold) => Effect.as(locate(`/holds/${hold.id}`), holdCreatedResponse(hold, payload))),
          Effect.catchIf(isSoldOut, () => Effect.succeed(soldOut))
        )
      )
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, (caller) => holds.get(caller, path.hold_id)))
      .handle("confirm", ({ path }) =>
        withRequestSession((session) => holds.confirm(session, path.hold_id)).pipe(
          // the booking as `HttpApi` would encode it (bench/README.md "Issue 18 and 19: the write path")
          Effect.flatMap((booking) => Effect.as(locate(`/bookings/${booking.id}`), bookingResponse(booking)))
        )
      )
      .handle("release", ({ path }) => Effect.flatMap(CurrentUser, (caller) => holds.release(caller, path.hold_id)))
  })
)

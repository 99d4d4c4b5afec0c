import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { ShumApi } from "@shum/domain/Api"
import { Message } from "@shum/domain/Common"
import { CurrentSession, CurrentUser } from "@shum/domain/Security"
import { Effect } from "effect"
import { locateCreated } from "../Http/Location.js"
import { BookingsService } from "./BookingsService.js"

export const BookingsLive = HttpApiBuilder.group(ShumApi, "bookings", (handlers) =>
  Effect.gen(function* () {
    const bookings = yield* BookingsService
    return handlers
      .handle("list", ({ urlParams }) => bookings.list(urlParams))
      .handle("mine", ({ urlParams }) => Effect.flatMap(CurrentUser, (caller) => bookings.mine(caller, urlParams)))
      .handle("create", ({ headers, payload }) =>
        // the session is checked by the booking's own statement (DeferredAuthentication, docs/decisions.md D13)
        Effect.flatMap(CurrentSession, (session) => bookings.create(session, payload, headers["idempotency-key"])).pipe(
          Effect.tap((answer) => Effect.flatMap(locateCreated, (locate) => locate(`/bookings/${answer.id}`)))
        )
      )
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, (caller) => bookings.get(caller, path.booking_id)))
      .handle("delete", ({ path }) =>
        Effect.flatMap(CurrentUser, (caller) => bookings.cancel(caller, path.booking_id)).pipe(Effect.as(Message.ok))
      )
      .handle("cancel", ({ headers, path }) =>
        Effect.flatMap(CurrentUser, (caller) =>
          bookings.cancelCommand(caller, path.booking_id, headers["idempotency-key"])
        )
      )
      .handle("changeDates", ({ headers, path, payload }) =>
        Effect.flatMap(CurrentUser, (caller) =>
          bookings.changeDates(caller, path.booking_id, payload, headers["idempotency-key"])
        )
      )
  })
)

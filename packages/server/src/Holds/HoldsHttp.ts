import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { ShumApi } from "@shum/domain/Api"
import { CurrentSession, CurrentUser } from "@shum/domain/Security"
import { Effect } from "effect"
import { locateCreated } from "../Http/Location.js"
import { HoldsService } from "./HoldsService.js"

export const HoldsLive = HttpApiBuilder.group(ShumApi, "holds", (handlers) =>
  Effect.gen(function* () {
    const holds = yield* HoldsService
    const locate = yield* locateCreated
    return handlers
      .handle("create", ({ headers, payload }) =>
        // the session is checked by the hold's own statement (DeferredAuthentication, docs/decisions.md D13)
        Effect.flatMap(CurrentSession, (session) => holds.create(session, payload, headers["idempotency-key"])).pipe(
          Effect.tap((hold) => locate(`/holds/${hold.id}`))
        )
      )
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, (caller) => holds.get(caller, path.hold_id)))
      .handle("confirm", ({ path }) =>
        Effect.flatMap(CurrentSession, (session) => holds.confirm(session, path.hold_id)).pipe(
          Effect.tap((booking) => locate(`/bookings/${booking.id}`))
        )
      )
      .handle("release", ({ path }) => Effect.flatMap(CurrentUser, (caller) => holds.release(caller, path.hold_id)))
  })
)

import { ShumApi } from "@shum/domain/Api"
import { RoomUnavailable } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { CurrentSession, CurrentUser } from "@shum/domain/Security"
import { Effect } from "effect"
import { closedGroup } from "../Http/ClosedGroup.js"
import { problemResponse } from "../Http/ErrorMapping.js"
import { locateCreated } from "../Http/Location.js"
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
        Effect.flatMap(CurrentSession, (session) => holds.create(session, payload, headers["idempotency-key"])).pipe(
          Effect.tap((hold) => locate(`/holds/${hold.id}`)),
          Effect.catchIf(isSoldOut, () => Effect.succeed(soldOut))
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

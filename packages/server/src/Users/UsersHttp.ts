import { closedGroup } from "../Http/ClosedGroup.js"
import { ShumApi } from "@shum/domain/Api"
import { Message } from "@shum/domain/Common"
import { CurrentUser } from "@shum/domain/Security"
import { Effect } from "effect"
import { UsersService } from "./UsersService.js"

export const UsersLive = closedGroup(ShumApi, "users", (handlers) =>
  Effect.gen(function* () {
    const users = yield* UsersService
    const asCaller = <A, E, R>(f: (caller: typeof CurrentUser.Service) => Effect.Effect<A, E, R>) =>
      Effect.flatMap(CurrentUser, f)
    return handlers
      .handle("list", ({ urlParams }) => users.list(urlParams))
      .handle("get", ({ path }) => asCaller((caller) => users.get(caller, path.user_id)))
      .handle("update", ({ path, payload }) =>
        asCaller((caller) => users.update(caller, path.user_id, payload)).pipe(Effect.as(Message.ok))
      )
      .handle("patch", ({ path, payload }) =>
        asCaller((caller) => users.patch(caller, path.user_id, payload)).pipe(Effect.as(Message.ok))
      )
      .handle("delete", ({ path }) =>
        asCaller((caller) => users.remove(caller, path.user_id)).pipe(Effect.as(Message.ok))
      )
  })
)

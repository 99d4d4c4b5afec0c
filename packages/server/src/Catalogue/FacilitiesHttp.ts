import { ShumApi } from "@shum/domain/Api"
import { Message } from "@shum/domain/Common"
import { Effect } from "effect"
import { closedGroup } from "../Http/ClosedGroup.js"
import { created, locateCreated } from "../Http/Location.js"
import { FacilitiesService } from "./FacilitiesService.js"

export const FacilitiesLive = closedGroup(ShumApi, "facilities", (handlers) =>
  Effect.gen(function* () {
    const facilities = yield* FacilitiesService
    // the configured ROOT_PATH, read once (a handler reads no service when called: `closedGroup`)
    const locate = yield* locateCreated
    return handlers
      .handle("list", ({ urlParams }) => facilities.list(urlParams))
      .handle("get", ({ path }) => facilities.get(path.facility_id))
      .handle("create", ({ payload }) => facilities.create(payload).pipe(created(locate, (id) => `/facilities/${id}`)))
      .handle("delete", ({ path }) => facilities.remove(path.facility_id).pipe(Effect.as(Message.ok)))
  })
)

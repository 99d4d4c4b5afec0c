import { ShumApi } from "@shum/domain/Api"
import { Message } from "@shum/domain/Common"
import { Effect } from "effect"
import { closedGroup } from "../Http/ClosedGroup.js"
import { created, locateCreated } from "../Http/Location.js"
import { CitiesService } from "./CitiesService.js"

export const CitiesLive = closedGroup(ShumApi, "cities", (handlers) =>
  Effect.gen(function* () {
    const cities = yield* CitiesService
    // the configured ROOT_PATH, read once (a handler reads no service when called: `closedGroup`)
    const locate = yield* locateCreated
    return handlers
      .handle("list", ({ urlParams }) => cities.list(urlParams))
      .handle("get", ({ path }) => cities.get(path.city_id))
      .handle("create", ({ payload }) => cities.create(payload).pipe(created(locate, (id) => `/cities/${id}`)))
      .handle("update", ({ path, payload }) => cities.update(path.city_id, payload).pipe(Effect.as(Message.ok)))
      .handle("patch", ({ path, payload }) => cities.patch(path.city_id, payload).pipe(Effect.as(Message.ok)))
      .handle("delete", ({ path }) => cities.remove(path.city_id).pipe(Effect.as(Message.ok)))
  })
)

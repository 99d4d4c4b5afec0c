import { ShumApi } from "@shum/domain/Api"
import { Message } from "@shum/domain/Common"
import { Effect } from "effect"
import { closedGroup } from "../Http/ClosedGroup.js"
import { created, locateCreated } from "../Http/Location.js"
import { CountriesService } from "./CountriesService.js"

export const CountriesLive = closedGroup(ShumApi, "countries", (handlers) =>
  Effect.gen(function* () {
    const countries = yield* CountriesService
    // the configured ROOT_PATH, read once (a handler reads no service when called: `closedGroup`)
    const locate = yield* locateCreated
    return handlers
      .handle("list", ({ urlParams }) => countries.list(urlParams))
      .handle("get", ({ path }) => countries.get(path.country_id))
      .handle("create", ({ payload }) => countries.create(payload).pipe(created(locate, (id) => `/countries/${id}`)))
      .handle("update", ({ path, payload }) => countries.update(path.country_id, payload).pipe(Effect.as(Message.ok)))
      .handle("patch", ({ path, payload }) => countries.patch(path.country_id, payload).pipe(Effect.as(Message.ok)))
      .handle("delete", ({ path }) => countries.remove(path.country_id).pipe(Effect.as(Message.ok)))
  })
)

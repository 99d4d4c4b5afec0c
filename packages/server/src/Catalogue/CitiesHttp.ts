import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { ShumApi } from "@shum/domain/Api"
import { Message } from "@shum/domain/Common"
import { created } from "../Http/Location.js"
import { Effect } from "effect"
import { CitiesService } from "./CitiesService.js"

export const CitiesLive = HttpApiBuilder.group(ShumApi, "cities", (handlers) =>
  Effect.gen(function* () {
    const cities = yield* CitiesService
    return handlers
      .handle("list", ({ urlParams }) => cities.list(urlParams))
      .handle("get", ({ path }) => cities.get(path.city_id))
      .handle("create", ({ payload }) => cities.create(payload).pipe(created((id) => `/cities/${id}`)))
      .handle("update", ({ path, payload }) => cities.update(path.city_id, payload).pipe(Effect.as(Message.ok)))
      .handle("patch", ({ path, payload }) => cities.patch(path.city_id, payload).pipe(Effect.as(Message.ok)))
      .handle("delete", ({ path }) => cities.remove(path.city_id).pipe(Effect.as(Message.ok)))
  })
)

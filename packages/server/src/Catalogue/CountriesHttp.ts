import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { ShumApi } from "@shum/domain/Api"
import { Message } from "@shum/domain/Common"
import { created } from "../Http/Location.js"
import { Effect } from "effect"
import { CountriesService } from "./CountriesService.js"

export const CountriesLive = HttpApiBuilder.group(ShumApi, "countries", (handlers) =>
  Effect.gen(function* () {
    const countries = yield* CountriesService
    return handlers
      .handle("list", ({ urlParams }) => countries.list(urlParams))
      .handle("get", ({ path }) => countries.get(path.country_id))
      .handle("create", ({ payload }) => countries.create(payload).pipe(created((id) => `/countries/${id}`)))
      .handle("update", ({ path, payload }) => countries.update(path.country_id, payload).pipe(Effect.as(Message.ok)))
      .handle("patch", ({ path, payload }) => countries.patch(path.country_id, payload).pipe(Effect.as(Message.ok)))
      .handle("delete", ({ path }) => countries.remove(path.country_id).pipe(Effect.as(Message.ok)))
  })
)

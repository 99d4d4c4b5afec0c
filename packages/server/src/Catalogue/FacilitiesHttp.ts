import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { ShumApi } from "@shum/domain/Api"
import { Message } from "@shum/domain/Common"
import { created } from "../Http/Location.js"
import { Effect } from "effect"
import { FacilitiesService } from "./FacilitiesService.js"

export const FacilitiesLive = HttpApiBuilder.group(ShumApi, "facilities", (handlers) =>
  Effect.gen(function* () {
    const facilities = yield* FacilitiesService
    return handlers
      .handle("list", ({ urlParams }) => facilities.list(urlParams))
      .handle("get", ({ path }) => facilities.get(path.facility_id))
      .handle("create", ({ payload }) => facilities.create(payload).pipe(created((id) => `/facilities/${id}`)))
      .handle("delete", ({ path }) => facilities.remove(path.facility_id).pipe(Effect.as(Message.ok)))
  })
)

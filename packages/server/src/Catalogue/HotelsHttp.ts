import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { ShumApi } from "@shum/domain/Api"
import { Message } from "@shum/domain/Common"
import { created } from "../Http/Location.js"
import { Effect } from "effect"
import { jsonText, preEncoded } from "../Http/PreEncoded.js"
import { HotelsService } from "./HotelsService.js"

export const HotelsLive = HttpApiBuilder.group(ShumApi, "hotels", (handlers) =>
  Effect.gen(function* () {
    const hotels = yield* HotelsService
    return handlers
      .handle("list", ({ urlParams }) => preEncoded(hotels.list(urlParams)))
      .handle("available", ({ urlParams }) => jsonText(hotels.available(urlParams)))
      .handle("get", ({ path }) => hotels.get(path.hotel_id))
      .handle("create", ({ payload }) => hotels.create(payload).pipe(created((id) => `/hotels/${id}`)))
      .handle("update", ({ path, payload }) => hotels.update(path.hotel_id, payload).pipe(Effect.as(Message.ok)))
      .handle("patch", ({ path, payload }) => hotels.patch(path.hotel_id, payload).pipe(Effect.as(Message.ok)))
      .handle("delete", ({ path }) => hotels.remove(path.hotel_id).pipe(Effect.as(Message.ok)))
  })
)

import { ShumApi } from "@shum/domain/Api"
import { Message } from "@shum/domain/Common"
import { Effect } from "effect"
import { closedGroup } from "../Http/ClosedGroup.js"
import { created, locateCreated } from "../Http/Location.js"
import { jsonBytes, preEncoded, preEncodedOne } from "../Http/PreEncoded.js"
import { CatalogueCache } from "./CatalogueCache.js"
import { HotelsService } from "./HotelsService.js"

export const HotelsLive = closedGroup(ShumApi, "hotels", (handlers) =>
  Effect.gen(function* () {
    const hotels = yield* HotelsService
    // the configured ROOT_PATH, read once (a handler reads no service when called: `closedGroup`)
    const locate = yield* locateCreated
    // the catalogue read cache (docs/decisions.md D7); availability is never cached
    const cache = yield* CatalogueCache
    return handlers
      .handle("list", ({ request, urlParams }) =>
        cache.serve("hotels.list", urlParams, () => preEncoded(hotels.list(urlParams)), request.url)
      )
      .handle("available", ({ urlParams }) => jsonBytes(hotels.available(urlParams)))
      .handle("get", ({ path }) => cache.serve("hotels.get", path, () => preEncodedOne(hotels.get(path.hotel_id))))
      .handle("create", ({ payload }) => hotels.create(payload).pipe(created(locate, (id) => `/hotels/${id}`)))
      .handle("update", ({ path, payload }) => hotels.update(path.hotel_id, payload).pipe(Effect.as(Message.ok)))
      .handle("patch", ({ path, payload }) => hotels.patch(path.hotel_id, payload).pipe(Effect.as(Message.ok)))
      .handle("delete", ({ path }) => hotels.remove(path.hotel_id).pipe(Effect.as(Message.ok)))
  })
)

import { ShumApi } from "@shum/domain/Api"
import { Message } from "@shum/domain/Common"
import { Effect } from "effect"
import { closedGroup } from "../Http/ClosedGroup.js"
import { created, locateCreated } from "../Http/Location.js"
import { jsonBytes, preEncoded, preEncodedOne } from "../Http/PreEncoded.js"
import { CatalogueCache } from "./CatalogueCache.js"
import { RoomsService } from "./RoomsService.js"

export const RoomsLive = closedGroup(ShumApi, "rooms", (handlers) =>
  Effect.gen(function* () {
    const rooms = yield* RoomsService
    // the configured ROOT_PATH, read once (a handler reads no service when called: `closedGroup`)
    const locate = yield* locateCreated
    // the catalogue read cache (docs/decisions.md D7); availability is never cached
    const cache = yield* CatalogueCache
    return handlers
      .handle("list", ({ path, request, urlParams }) =>
        cache.serve(
          "rooms.list",
          { ...path, ...urlParams },
          () => preEncoded(rooms.list(path.hotel_id, urlParams)),
          request.url
        )
      )
      .handle("available", ({ path, urlParams }) => jsonBytes(rooms.available(path.hotel_id, urlParams)))
      .handle("get", ({ path }) =>
        cache.serve("rooms.get", path, () => preEncodedOne(rooms.get(path.hotel_id, path.room_id)))
      )
      .handle("create", ({ path, payload }) =>
        rooms.create(path.hotel_id, payload).pipe(created(locate, (id) => `/hotels/${path.hotel_id}/rooms/${id}`))
      )
      .handle("update", ({ path, payload }) =>
        rooms.update(path.hotel_id, path.room_id, payload).pipe(Effect.as(Message.ok))
      )
      .handle("patch", ({ path, payload }) =>
        rooms.patch(path.hotel_id, path.room_id, payload).pipe(Effect.as(Message.ok))
      )
      .handle("delete", ({ path }) => rooms.remove(path.hotel_id, path.room_id).pipe(Effect.as(Message.ok)))
  })
)

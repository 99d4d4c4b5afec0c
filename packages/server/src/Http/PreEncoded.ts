/**
 * A success answered as JSON as it is, without `HttpApi` encoding it once more through the endpoint's
 * schema. For the catalogue's lists and availability searches only, whose models (`Hotel`, `Room`,
 * `AvailableRoom`, `HotelWithRooms`, `Facility`) are classes of fields that encode to themselves: the
 * values were decoded from the database or built from decoded parts, so `JSON.stringify` writes exactly
 * what the encoding would, field for field and in the same order, without validating every field of every
 * row again — for a page of hotels with all their rooms that validation was most of the request's CPU
 * (`npm run bench`). `test/PreEncoded.test.ts` checks that each of these models still encodes to itself.
 * A single `Hotel` or `Room` is answered the same way (`preEncodedOne`) so that the catalogue cache
 * (`Catalogue/CatalogueCache.ts`) keeps the body the client receives.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { Hotel, HotelWithRooms } from "@shum/domain/Hotels"
import type { AvailableRoom, Room } from "@shum/domain/Rooms"
import { Effect } from "effect"

type SelfEncoding = Hotel | HotelWithRooms | Room | AvailableRoom

/** `200` with the values as JSON (`application/json`, as `HttpApi` answers). */
export const preEncoded = <E, R>(
  effect: Effect.Effect<ReadonlyArray<SelfEncoding>, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
  Effect.map(effect, (values) => HttpServerResponse.unsafeJson(values))

/** `200` with one value as JSON: a single hotel or room, answered so the catalogue cache can keep its body. */
export const preEncodedOne = <E, R>(
  effect: Effect.Effect<Hotel | Room, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
  Effect.map(effect, (value) => HttpServerResponse.unsafeJson(value))

/**
 * `200` with JSON bytes built elsewhere (`Catalogue/AvailabilitySearch.ts`), as they are: the same answer as
 * `HttpServerResponse.text` of their text (which encodes it to these bytes).
 */
export const jsonBytes = <E, R>(
  effect: Effect.Effect<Uint8Array, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
  Effect.map(effect, (body) => HttpServerResponse.uint8Array(body, { contentType: "application/json" }))

import { assert, describe, it } from "@effect/vitest"
import { Hotel, HotelWithRooms } from "@shum/domain/Hotels"
import { AvailableRoom, Room } from "@shum/domain/Rooms"
import { Effect, Schema } from "effect"
import { preEncoded } from "../src/Http/PreEncoded.js"

// What the catalogue's lists and searches answer without `HttpApi` encoding (`Http/PreEncoded.ts`) must be,
// byte for byte, what the encoding through the endpoint's schema would have written.
const hotelRow = {
  id: 7,
  title: "Гранд «Волна»",
  address: "ул. Ленина, 1",
  postal_code: null,
  check_in_time: "14:00:00.5",
  check_out_time: null,
  city: "Москва",
  country: "Россия"
}
const roomRow = {
  id: 3,
  hotel_id: 7,
  title: "Люкс",
  description: null,
  price: 5000,
  quantity: 4,
  facilities: [
    { id: 1, title: "Wi-Fi" },
    { id: 2, title: "Сейф" }
  ]
}

const samples = () => {
  const hotel = Schema.decodeUnknownSync(Hotel)(hotelRow)
  const room = Schema.decodeUnknownSync(Room)(roomRow)
  // built as `SearchPeriod.ts` and `HotelsService.ts` build them
  const available = new AvailableRoom({ ...room, quantity: 2 }, true)
  const withRooms = new HotelWithRooms({ ...hotel, rooms: [available] }, true)
  return [
    [Schema.Array(Hotel), [hotel]],
    [Schema.Array(Room), [room]],
    [Schema.Array(AvailableRoom), [available]],
    [Schema.Array(HotelWithRooms), [withRooms, new HotelWithRooms({ ...hotel, rooms: [] }, true)]]
  ] as const
}

describe("pre-encoded catalogue answers", () => {
  it("every model they carry encodes to itself, field for field and in order", () => {
    for (const [schema, values] of samples()) {
      const encoded = Schema.encodeSync(schema as Schema.Schema<unknown, unknown>)(values)
      assert.strictEqual(JSON.stringify(values), JSON.stringify(encoded))
    }
  })

  it.effect("the response is 200 application/json with those bytes", () =>
    Effect.gen(function* () {
      const [, [hotel]] = samples()[0]
      const response = yield* preEncoded(Effect.succeed([hotel]))
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.headers["content-type"] ?? response.body.contentType, "application/json")
      assert.strictEqual(response.body._tag, "Uint8Array")
      if (response.body._tag === "Uint8Array") {
        assert.strictEqual(new TextDecoder().decode(response.body.body), JSON.stringify([hotelRow]))
      }
    })
  )
})

/**
 * The availability searches' JSON, written by PostgreSQL (`Catalogue/AvailabilitySearch.ts`), is exactly
 * what `HttpApi` would have written from the models — byte for byte, escapes, nulls, times and field order
 * included — and its free units are the per-night counts of the bookings themselves
 * (`AvailabilityFromBookings`, the oracle of the inventory).
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { HotelWithRooms } from "@shum/domain/Hotels"
import { AvailableRoom } from "@shum/domain/Rooms"
import { randomName } from "@shum/infra/Testing"
import { Effect, Schema } from "effect"
import { Availability, AvailabilityFromBookings } from "../src/Testing.js"
import { insertBooking, insertCity, insertFacility, insertHotel, insertRoom, raw } from "./CatalogueFixtures.js"
import { TestServer } from "./support.js"

const Hotels = Schema.Array(HotelWithRooms)
const Rooms = Schema.Array(AvailableRoom)

/** What `HttpApi` writes for these values: decode (validating every field), encode, `JSON.stringify`. */
const asHttpApiWrites = <A, I>(schema: Schema.Schema<A, I>, text: string) =>
  JSON.stringify(Schema.encodeSync(schema)(Schema.decodeUnknownSync(schema)(JSON.parse(text))))

/** Day `n` of a window starting 100 days from today (UTC): within the searches' horizon (D11). */
const START = Math.floor(Date.now() / 86_400_000 + 100) * 86_400_000
const day = (n: number) => new Date(START + n * 86_400_000).toISOString().slice(0, 10)

/** A small deterministic generator, so a failure replays. */
const generator = (seed: number) => {
  let state = seed
  return (n: number) => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    return state % n
  }
}

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("availability search JSON", (it) => {
  it.effect("H2 and R2 write what HttpApi would: escapes, Cyrillic, nulls, fractional times, order", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      // no backslash in the city's name: the filter is a LIKE pattern, where it escapes (docs/api.md §1.7)
      const city = yield* insertCity(undefined, randomName('Город «кавычки» "/-'))
      const odd = yield* insertHotel(city.id, randomName('Отель "A\\B" \t\n\u0001 😀 </script> '))
      yield* sql`UPDATE hotels SET postal_code = NULL, check_in_time = '14:30:00.5', check_out_time = NULL
                 WHERE id = ${odd.id}`
      const plain = yield* insertHotel(city.id)
      const wifi = yield* insertFacility('Wi-Fi "5 ГГц"\\')
      const bath = yield* insertFacility()
      const a = yield* insertRoom(odd.id, { quantity: 3, price: 2_147_483_647, facilityIds: [bath.id, wifi.id] })
      yield* sql`UPDATE rooms SET description = NULL WHERE id = ${a.id}`
      yield* insertRoom(odd.id, { quantity: 1, title: "Номер\u2028с разделителем" })
      const full = yield* insertRoom(plain.id, { quantity: 1 })
      yield* insertBooking(a.id, day(1), day(3))
      yield* insertBooking(full.id, day(0), day(5))

      const search = `/hotels/rooms/available?date_from=${day(1)}&date_to=${day(3)}&city=${encodeURIComponent(city.name)}`
      const hotels = yield* raw("GET", search)
      assert.strictEqual(hotels.status, 200)
      assert.strictEqual(hotels.headers["content-type"], "application/json")
      assert.strictEqual(hotels.text, asHttpApiWrites(Hotels, hotels.text))
      const decoded = Schema.decodeUnknownSync(Hotels)(hotels.json)
      assert.deepStrictEqual(
        decoded.map((hotel) => [hotel.id, hotel.rooms.map((room) => room.quantity)]),
        [
          [odd.id, [2, 1]],
          [plain.id, []] // its only room is taken: listed, with no rooms
        ]
      )
      const first = decoded[0]!
      assert.strictEqual(first.title, odd.title)
      assert.deepStrictEqual(
        [first.postal_code, first.check_in_time, first.check_out_time, first.city],
        [null, "14:30:00.5", null, city.name]
      )
      assert.deepStrictEqual(
        first.rooms[0]!.facilities.map((f) => f.id),
        [wifi.id, bath.id].sort((x, y) => x - y)
      )
      assert.isNull(first.rooms[0]!.description)
      assert.strictEqual(first.rooms[0]!.price, 2_147_483_647)

      const rooms = yield* raw("GET", `/hotels/${odd.id}/rooms/available?date_from=${day(1)}&date_to=${day(3)}`)
      assert.strictEqual(rooms.status, 200)
      assert.strictEqual(rooms.text, asHttpApiWrites(Rooms, rooms.text))
      assert.strictEqual(rooms.text, JSON.stringify(decoded[0]!.rooms.map((room) => JSON.parse(JSON.stringify(room)))))
      const none = yield* raw("GET", `/hotels/${plain.id}/rooms/available?date_from=${day(1)}&date_to=${day(3)}`)
      assert.strictEqual(none.text, "[]")
      const nothing = yield* raw(
        "GET",
        `/hotels/rooms/available?date_from=${day(1)}&date_to=${day(3)}&city=${randomName("нет")}`
      )
      assert.strictEqual(nothing.text, "[]")
    })
  )

  it.effect("free units agree with the bookings counted night by night, over random stays", () =>
    Effect.gen(function* () {
      const random = generator(20_340_101)
      const hotel = yield* insertHotel()
      const rooms = []
      for (let i = 0; i < 6; i++) rooms.push(yield* insertRoom(hotel.id, { quantity: 1 + random(4) }))
      for (let i = 0; i < 40; i++) {
        const room = rooms[random(rooms.length)]!
        const from = random(20)
        // the booking API would refuse an overbooking; straight into the table, some are refused too
        yield* Effect.exit(insertBooking(room.id, day(from), day(from + 1 + random(5))))
      }
      const ids = rooms.map((room) => room.id)
      for (let i = 0; i < 25; i++) {
        const from = random(22)
        const to = from + 1 + random(6)
        const response = yield* raw(
          "GET",
          `/hotels/${hotel.id}/rooms/available?date_from=${day(from)}&date_to=${day(to)}`
        )
        const got = Schema.decodeUnknownSync(Rooms)(response.json).map((room) => [room.id, room.quantity])
        const counted = yield* Availability.freeUnits(ids, day(from), day(to)).pipe(
          Effect.provide(AvailabilityFromBookings)
        )
        const expected = ids.flatMap((id) => ((counted.get(id) ?? 0) > 0 ? [[id, counted.get(id)!]] : []))
        assert.deepStrictEqual(got, expected, `${day(from)} → ${day(to)}`)
      }
    })
  )
})

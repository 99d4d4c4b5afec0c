import { assert, layer } from "@effect/vitest"
import { DateString } from "@shum/domain/Common"
import { InvalidDateRange, NotFound } from "@shum/domain/Errors"
import { randomName } from "@shum/infra/Testing"
import { Effect } from "effect"
import {
  callers,
  insertBooking,
  insertCity,
  insertFacility,
  insertHotel,
  insertRoom,
  raw
} from "./CatalogueFixtures.js"
import { day } from "./BookingsFixtures.js"
import { TestServer } from "./support.js"

const stay = (from: string, to: string) => ({ date_from: DateString.make(from), date_to: DateString.make(to) })
/** Night `n` of a month-long window starting 100 days from now (UTC), inside the booking horizon (D11). */
const night = (n: number) => day(100 + n)
const periodInvalid = new InvalidDateRange({ detail: "Дата начала периода должна быть раньше даты окончания" })

/**
 * A hotel for the nights 10, 11 and 12 of the window (stay 10 → 13):
 * - `a` (2 units): back-to-back stays 9 → 11 and 11 → 13 hold one unit each night → 1 free (the original,
 *   counting overlapping bookings, would say 0);
 * - `b` (1 unit): booked on the night of the 11th only → not free; a stay from the 13th (check-out day) does not count;
 * - `c` (3 units): one stay on the 10th, two on the 12th → the smallest number free over the nights is 1.
 */
const bookedHotel = (cityId?: number) =>
  Effect.gen(function* () {
    const hotel = yield* insertHotel(cityId)
    const wifi = yield* insertFacility()
    const a = yield* insertRoom(hotel.id, { quantity: 2, facilityIds: [wifi.id] })
    const b = yield* insertRoom(hotel.id, { quantity: 1 })
    const c = yield* insertRoom(hotel.id, { quantity: 3 })
    yield* insertBooking(a.id, night(9), night(11))
    yield* insertBooking(a.id, night(11), night(13))
    yield* insertBooking(b.id, night(11), night(12))
    yield* insertBooking(b.id, night(13), night(15))
    yield* insertBooking(c.id, night(10), night(11))
    yield* insertBooking(c.id, night(12), night(13))
    yield* insertBooking(c.id, night(12), night(14))
    return { hotel, wifi, a, b, c }
  })

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("availability (H2, R2; D2)", (it) => {
  it.effect("R2: rooms with a unit free every night, quantity = the fewest free units; counted per night", () =>
    Effect.gen(function* () {
      const { anonymous } = yield* callers
      const { a, c, hotel, wifi } = yield* bookedHotel()
      const path = { hotel_id: hotel.id }
      const free = yield* anonymous.rooms.available({ path, urlParams: stay(night(10), night(13)) })
      assert.deepStrictEqual(
        free.map((room) => [room.id, room.quantity]),
        [
          [a.id, 1],
          [c.id, 1]
        ]
      )
      assert.deepStrictEqual(
        free[0]?.facilities.map((f) => f.id),
        [wifi.id]
      )
      // the check-out day is free for a new check-in: from the 13th everything but b's second stay is free
      const later = yield* anonymous.rooms.available({ path, urlParams: stay(night(13), night(14)) })
      assert.deepStrictEqual(
        later.map((room) => [room.id, room.quantity]),
        [
          [a.id, 2],
          [c.id, 2]
        ]
      )
    })
  )

  it.effect("R2: the dates are checked (400 E-40) before the hotel (404 E-12); missing dates → 422", () =>
    Effect.gen(function* () {
      const { anonymous } = yield* callers
      const unknown = { hotel_id: 999_999 }
      const reversed = yield* Effect.flip(
        anonymous.rooms.available({ path: unknown, urlParams: stay(night(10), night(10)) })
      )
      assert.deepStrictEqual(reversed, periodInvalid)
      const missing = yield* Effect.flip(
        anonymous.rooms.available({ path: unknown, urlParams: stay(night(10), night(11)) })
      )
      assert.deepStrictEqual(missing, new NotFound({ detail: "Отель не найден" }))
      const hotel = yield* insertHotel()
      assert.strictEqual((yield* raw("GET", `/hotels/${hotel.id}/rooms/available?date_from=${night(10)}`)).status, 422)
      assert.deepStrictEqual(
        yield* anonymous.rooms.available({ path: { hotel_id: hotel.id }, urlParams: stay(night(10), night(11)) }),
        []
      )
    })
  )

  it.effect("H2: each hotel with its free rooms; a hotel with none is listed with rooms: []", () =>
    Effect.gen(function* () {
      const { anonymous } = yield* callers
      const tag = randomName("av")
      const city = yield* insertCity(undefined, `${tag}-город`)
      const { a, c, hotel } = yield* bookedHotel(city.id)
      const full = yield* insertHotel(city.id, `${tag} полный`)
      const only = yield* insertRoom(full.id, { quantity: 1 })
      yield* insertBooking(only.id, night(1), night(20))
      const found = yield* anonymous.hotels.available({
        urlParams: { ...stay(night(10), night(13)), city: `${tag}-ГОРОД` }
      })
      assert.deepStrictEqual(
        found.map((h) => [h.id, h.rooms.map((room) => [room.id, room.quantity])]),
        [
          [
            hotel.id,
            [
              [a.id, 1],
              [c.id, 1]
            ]
          ],
          [full.id, []]
        ]
      )
      assert.strictEqual(found[0]?.city, city.name)
      const one = yield* anonymous.hotels.available({
        urlParams: { ...stay(night(10), night(13)), hotel_id: full.id }
      })
      assert.deepStrictEqual(
        one.map((h) => h.id),
        [full.id]
      )
      const byTitle = yield* anonymous.hotels.available({
        urlParams: { ...stay(night(10), night(13)), title: `${tag} ПОЛ`, city: tag }
      })
      assert.deepStrictEqual(
        byTitle.map((h) => h.id),
        [full.id]
      )
      const page2 = yield* anonymous.hotels.available({
        urlParams: { ...stay(night(10), night(13)), city: tag, per_page: 1, page: 2 }
      })
      assert.deepStrictEqual(
        page2.map((h) => h.id),
        [full.id]
      )
      const response = yield* raw(
        "GET",
        `/hotels/rooms/available?date_from=${night(10)}&date_to=${night(13)}&hotel_id=${full.id}`
      )
      assert.deepStrictEqual(Object.keys((response.json as Array<object>)[0]!), [
        "id",
        "title",
        "address",
        "postal_code",
        "check_in_time",
        "check_out_time",
        "city",
        "country",
        "rooms"
      ])
    })
  )

  it.effect("H2: date_from not before date_to → 400 E-40; an unknown hotel_id → []; 422 without dates", () =>
    Effect.gen(function* () {
      const { anonymous } = yield* callers
      const reversed = yield* Effect.flip(anonymous.hotels.available({ urlParams: stay(night(12), night(10)) }))
      assert.deepStrictEqual(reversed, periodInvalid)
      const same = yield* Effect.flip(anonymous.hotels.available({ urlParams: stay(night(10), night(10)) }))
      assert.deepStrictEqual(same, periodInvalid)
      assert.deepStrictEqual(
        yield* anonymous.hotels.available({ urlParams: { ...stay(night(10), night(11)), hotel_id: 999_999 } }),
        []
      )
      assert.strictEqual((yield* raw("GET", `/hotels/rooms/available?date_from=${night(10)}`)).status, 422)
      assert.strictEqual(
        (yield* raw("GET", `/hotels/rooms/available?date_from=2032-02-30&date_to=${night(1)}`)).status,
        422
      )
      assert.strictEqual(
        (yield* raw("GET", `/hotels/rooms/available?date_from=${night(10)}&date_to=${night(11)}&per_page=21`)).status,
        422
      )
    })
  )
})

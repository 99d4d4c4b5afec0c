import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Conflict, NotFound } from "@shum/domain/Errors"
import { randomName } from "@shum/infra/Testing"
import { Effect } from "effect"
import { Metrics } from "../src/Metrics.js"
import {
  callers,
  countRows,
  insertBooking,
  insertCity,
  insertCountry,
  insertFacility,
  insertHotel,
  insertRoom,
  raw
} from "./CatalogueFixtures.js"
import { TestServer } from "./support.js"

const hotelsCreated = Effect.flatMap(Metrics, (metrics) =>
  Effect.promise(() => metrics.counters.hotelsCreated.get())
).pipe(Effect.map((metric) => metric.values[0]?.value ?? 0))

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("hotels (docs/api.md §8.5)", (it) => {
  it.effect("H1: filters title, city (partial, c-i) and city_id; the fields in the contract's order", () =>
    Effect.gen(function* () {
      const { anonymous } = yield* callers
      const tag = randomName("hq")
      const moscow = yield* insertCity(undefined, `${tag}-Москва`)
      const kazan = yield* insertCity(undefined, `${tag}-Казань`)
      const a = yield* insertHotel(moscow.id, `${tag} Гранд`)
      const b = yield* insertHotel(moscow.id, `${tag} гранд_2`)
      const c = yield* insertHotel(kazan.id, `${tag} Ривьера`)
      const ids = (hotels: ReadonlyArray<{ readonly id: number }>) => hotels.map((hotel) => hotel.id)
      assert.deepStrictEqual(ids(yield* anonymous.hotels.list({ urlParams: { title: `${tag} ГРАНД` } })), [a.id, b.id])
      assert.deepStrictEqual(ids(yield* anonymous.hotels.list({ urlParams: { title: `${tag}%ьер` } })), [c.id])
      assert.deepStrictEqual(ids(yield* anonymous.hotels.list({ urlParams: { city: `${tag}-моск` } })), [a.id, b.id])
      assert.deepStrictEqual(ids(yield* anonymous.hotels.list({ urlParams: { city_id: kazan.id } })), [c.id])
      assert.deepStrictEqual(
        ids(yield* anonymous.hotels.list({ urlParams: { title: tag, city: "_азан", city_id: kazan.id } })),
        [c.id]
      )
      assert.deepStrictEqual(yield* anonymous.hotels.list({ urlParams: { title: tag, page: 2 } }), [])
      const response = yield* raw("GET", `/hotels?title=${encodeURIComponent(`${tag} Ривьера`)}`)
      const [hotel] = response.json as Array<Record<string, unknown>>
      assert.deepStrictEqual(Object.keys(hotel!), [
        "id",
        "title",
        "address",
        "postal_code",
        "check_in_time",
        "check_out_time",
        "city",
        "country"
      ])
      assert.deepStrictEqual([hotel!["check_in_time"], hotel!["check_out_time"]], ["14:00:00", "12:00:00"])
      assert.strictEqual(hotel!["city"], kazan.name)
    })
  )

  it.effect("H1: sort_by id|title|city with order; sort_by=city with city_id does not duplicate rows", () =>
    Effect.gen(function* () {
      const { anonymous } = yield* callers
      const tag = randomName("hs")
      const cityB = yield* insertCity(undefined, `${tag} b`)
      const cityA = yield* insertCity(undefined, `${tag} a`)
      const h1 = yield* insertHotel(cityB.id, `${tag} c`)
      const h2 = yield* insertHotel(cityA.id, `${tag} b`)
      const h3 = yield* insertHotel(cityB.id, `${tag} a`)
      const list = (urlParams: Record<string, unknown>) =>
        Effect.map(anonymous.hotels.list({ urlParams: { title: tag, ...urlParams } }), (hotels) =>
          hotels.map((hotel) => hotel.id)
        )
      assert.deepStrictEqual(yield* list({}), [h1.id, h2.id, h3.id])
      assert.deepStrictEqual(yield* list({ sort_by: "id", order: "desc" }), [h3.id, h2.id, h1.id])
      assert.deepStrictEqual(yield* list({ sort_by: "title" }), [h3.id, h2.id, h1.id])
      assert.deepStrictEqual(yield* list({ sort_by: "title", order: "desc" }), [h1.id, h2.id, h3.id])
      // ties on the city name are broken by id, in the same direction
      assert.deepStrictEqual(yield* list({ sort_by: "city" }), [h2.id, h1.id, h3.id])
      assert.deepStrictEqual(yield* list({ sort_by: "city", order: "desc" }), [h3.id, h1.id, h2.id])
      assert.deepStrictEqual(yield* list({ sort_by: "city", city_id: cityB.id }), [h1.id, h3.id])
      assert.deepStrictEqual(yield* list({ sort_by: "city", city_id: cityB.id, per_page: 1, page: 2 }), [h3.id])
      assert.strictEqual((yield* raw("GET", "/hotels?sort_by=price")).status, 422)
      assert.strictEqual((yield* raw("GET", "/hotels?order=ASC")).status, 422)
      assert.strictEqual((yield* raw("GET", "/hotels?per_page=21")).status, 422)
    })
  )

  it.effect("H3: one hotel; unknown → 404 `Отель не найден`", () =>
    Effect.gen(function* () {
      const { anonymous } = yield* callers
      const hotel = yield* insertHotel()
      const found = yield* anonymous.hotels.get({ path: { hotel_id: hotel.id } })
      assert.deepStrictEqual([found.id, found.title, found.postal_code], [hotel.id, hotel.title, "101000"])
      const missing = yield* Effect.flip(anonymous.hotels.get({ path: { hotel_id: 999_999 } }))
      assert.deepStrictEqual(missing, new NotFound({ detail: "Отель не найден" }))
    })
  )

  it.effect("H4: city by name (c-i) → 404 E-11; title taken → 409; default times; hotels_created_total +1", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const city = yield* insertCity()
      const title = randomName("Отель-")
      const unknownCity = yield* Effect.flip(
        admin.hotels.create({ payload: { title, city: "Атлантида-0", address: "1" } })
      )
      assert.deepStrictEqual(unknownCity, new NotFound({ detail: "Город с название 'Атлантида-0' не найден" }))
      const emptyCity = yield* Effect.flip(admin.hotels.create({ payload: { title, city: "", address: "1" } }))
      assert.deepStrictEqual(emptyCity, new NotFound({ detail: "Город не найден" }))
      const before = yield* hotelsCreated
      yield* admin.hotels.create({ payload: { title, city: city.name.toUpperCase(), address: "ул. Ленина, 1" } })
      assert.strictEqual(yield* hotelsCreated, before + 1)
      const [created] = yield* admin.hotels.list({ urlParams: { title } })
      assert.deepStrictEqual(
        [created?.city, created?.postal_code, created?.check_in_time, created?.check_out_time],
        [city.name, null, "14:00:00", "12:00:00"]
      )
      const taken = yield* Effect.flip(admin.hotels.create({ payload: { title, city: city.name, address: "2" } }))
      assert.deepStrictEqual(taken, new Conflict({ detail: `Отель с название '${title}' уже существует` }))
      // the title is unique case-sensitively
      const upper = title.toUpperCase()
      yield* admin.hotels.create({
        payload: { title: upper, city: city.name, address: "3", check_in_time: "15:30", check_out_time: "10:00:00.5" }
      })
      // the filter is case-insensitive: both hotels match
      const matching = yield* admin.hotels.list({ urlParams: { title: upper } })
      assert.strictEqual(matching.length, 2)
      const timed = matching.find((hotel) => hotel.title === upper)
      assert.deepStrictEqual([timed?.check_in_time, timed?.check_out_time], ["15:30:00", "10:00:00.5"])
      const nullTimes = randomName("Отель-")
      yield* admin.hotels.create({
        payload: { title: nullTimes, city: city.name, address: "4", check_in_time: null, check_out_time: null }
      })
      const [defaults] = yield* admin.hotels.list({ urlParams: { title: nullTimes } })
      assert.deepStrictEqual([defaults?.check_in_time, defaults?.check_out_time], ["14:00:00", "12:00:00"])
      const badTime = yield* raw("POST", "/hotels", {
        admin: true,
        body: { title: randomName("x"), city: city.name, address: "5", check_in_time: "25:00" }
      })
      assert.strictEqual(badTime.status, 422)
      assert.strictEqual((yield* raw("POST", "/hotels", { admin: true, body: { title: "x" } })).status, 422)
    })
  )

  it.effect("H4: when two cities share the name, the one with the lowest id is used (DEFECT fixed)", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const name = randomName("Спрингфилд-")
      const first = yield* insertCountry()
      yield* insertCity(first.id, name)
      yield* insertCity(undefined, name.toUpperCase())
      const title = randomName("Отель-")
      yield* admin.hotels.create({ payload: { title, city: name.toLowerCase(), address: "1" } })
      const [hotel] = yield* admin.hotels.list({ urlParams: { title } })
      assert.deepStrictEqual([hotel?.city, hotel?.country], [name, first.name])
    })
  )

  it.effect("H5: hotel 404 E-10 → city 404 → title 409; full replacement of postal code and times", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const city = yield* insertCity()
      const hotel = yield* insertHotel(city.id)
      const path = { hotel_id: hotel.id }
      const body = { title: hotel.title, city: city.name, address: "ул. Новая, 2" }
      const missing = yield* Effect.flip(admin.hotels.update({ path: { hotel_id: 999_999 }, payload: body }))
      assert.deepStrictEqual(missing, new NotFound({ detail: "Отель с ID 999999 не найден" }))
      const noCity = yield* Effect.flip(admin.hotels.update({ path, payload: { ...body, city: "Нигде-0" } }))
      assert.deepStrictEqual(noCity, new NotFound({ detail: "Город с название 'Нигде-0' не найден" }))
      const other = yield* insertHotel(city.id)
      const taken = yield* Effect.flip(admin.hotels.update({ path, payload: { ...body, title: other.title } }))
      assert.deepStrictEqual(taken, new Conflict({ detail: `Отель с название '${other.title}' уже существует` }))
      yield* admin.hotels.patch({ path, payload: { check_in_time: "16:00", check_out_time: "11:00" } })
      yield* admin.hotels.update({ path, payload: body })
      const replaced = yield* admin.hotels.get({ path })
      assert.deepStrictEqual(
        [replaced.address, replaced.postal_code, replaced.check_in_time, replaced.check_out_time],
        ["ул. Новая, 2", null, "14:00:00", "12:00:00"]
      )
      yield* admin.hotels.update({ path, payload: { ...body, check_in_time: null, check_out_time: null } })
      const cleared = yield* admin.hotels.get({ path })
      assert.deepStrictEqual([cleared.check_in_time, cleared.check_out_time], [null, null])
    })
  )

  it.effect("H6: hotel 404 → title 409 → city 404; only non-null fields are written; {} → 200", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const hotel = yield* insertHotel()
      const path = { hotel_id: hotel.id }
      const missing = yield* Effect.flip(admin.hotels.patch({ path: { hotel_id: 999_999 }, payload: {} }))
      assert.deepStrictEqual(missing, new NotFound({ detail: "Отель с ID 999999 не найден" }))
      const other = yield* insertHotel()
      const titleFirst = yield* Effect.flip(
        admin.hotels.patch({ path, payload: { title: other.title, city: "Нигде-1" } })
      )
      assert.strictEqual(titleFirst._tag, "Conflict")
      const noCity = yield* Effect.flip(admin.hotels.patch({ path, payload: { city: "Нигде-1" } }))
      assert.deepStrictEqual(noCity, new NotFound({ detail: "Город с название 'Нигде-1' не найден" }))
      assert.deepStrictEqual(yield* admin.hotels.patch({ path, payload: {} }), { status: "OK" })
      yield* admin.hotels.patch({ path, payload: { title: hotel.title } })
      const city = yield* insertCity()
      yield* admin.hotels.patch({
        path,
        payload: { title: null, address: "ул. Другая, 3", postal_code: null, check_in_time: null, city: city.name }
      })
      const patched = yield* admin.hotels.get({ path })
      assert.deepStrictEqual(
        [patched.title, patched.address, patched.postal_code, patched.check_in_time, patched.city],
        [hotel.title, "ул. Другая, 3", "101000", "14:00:00", city.name]
      )
    })
  )

  it.effect("H7: 404 `Отель не найден`; cascades rooms, bookings, facility links and image links, not images", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const missing = yield* Effect.flip(admin.hotels.delete({ path: { hotel_id: 999_999 } }))
      assert.deepStrictEqual(missing, new NotFound({ detail: "Отель не найден" }))
      const sql = yield* SqlClient.SqlClient
      const hotel = yield* insertHotel()
      const facility = yield* insertFacility()
      const room = yield* insertRoom(hotel.id, { facilityIds: [facility.id] })
      yield* insertBooking(room.id, "2031-01-01", "2031-01-03")
      const [image] = yield* sql<{ id: number }>`
        INSERT INTO images (filename, original_filename, width, height) VALUES ('a.jpg', 'a.jpg', 1200, 800) RETURNING id`
      yield* sql`INSERT INTO hotels_images (hotel_id, image_id) VALUES (${hotel.id}, ${image!.id})`
      assert.deepStrictEqual(yield* admin.hotels.delete({ path: { hotel_id: hotel.id } }), { status: "OK" })
      assert.strictEqual(yield* countRows("rooms", "hotel_id", hotel.id), 0)
      assert.strictEqual(yield* countRows("bookings", "room_id", room.id), 0)
      assert.strictEqual(yield* countRows("rooms_facilities", "room_id", room.id), 0)
      assert.strictEqual(yield* countRows("hotels_images", "hotel_id", hotel.id), 0)
      assert.strictEqual(yield* countRows("images", "id", image!.id), 1)
      assert.strictEqual(yield* countRows("facilities", "id", facility.id), 1)
      assert.strictEqual((yield* Effect.flip(admin.hotels.get({ path: { hotel_id: hotel.id } })))._tag, "NotFound")
    })
  )

  it.effect("every catalogue route: a non-integer path id → 422; an anonymous write with a bad body → 401 first", () =>
    Effect.gen(function* () {
      const reads = ["/countries/x", "/cities/x", "/facilities/x", "/hotels/x", "/hotels/x/rooms", "/hotels/1/rooms/x"]
      for (const url of reads) assert.strictEqual((yield* raw("GET", url)).status, 422, url)
      assert.strictEqual(
        (yield* raw("GET", "/hotels/x/rooms/available?date_from=2032-01-01&date_to=2032-01-02")).status,
        422
      )
      const writes = [
        ["POST", "/countries"],
        ["PUT", "/cities/1"],
        ["PATCH", "/hotels/1"],
        ["POST", "/facilities"],
        ["PUT", "/hotels/1/rooms/1"]
      ] as const
      for (const [method, url] of writes) {
        assert.strictEqual((yield* raw(method, url, { body: { title: 5 } })).status, 401, `${method} ${url}`)
        assert.strictEqual(
          (yield* raw(method, url, { admin: true, body: { title: 5 } })).status,
          422,
          `${method} ${url}`
        )
      }
      assert.strictEqual((yield* raw("DELETE", "/hotels/x", { admin: true })).status, 422)
    })
  )

  it.effect("D1: writes are admin-only (anonymous 401, user 403)", () =>
    Effect.gen(function* () {
      const { anonymous, user } = yield* callers
      const hotel = yield* insertHotel()
      const path = { hotel_id: hotel.id }
      const payload = { title: randomName("x"), city: "x", address: "x" }
      const attempts = (api: typeof anonymous) => [
        api.hotels.create({ payload }),
        api.hotels.update({ path, payload }),
        api.hotels.patch({ path, payload: {} }),
        api.hotels.delete({ path })
      ]
      for (const attempt of attempts(anonymous)) assert.strictEqual((yield* Effect.flip(attempt))._tag, "Unauthorized")
      for (const attempt of attempts(user)) assert.strictEqual((yield* Effect.flip(attempt))._tag, "Forbidden")
      assert.strictEqual((yield* anonymous.hotels.get({ path })).id, hotel.id)
    })
  )
})

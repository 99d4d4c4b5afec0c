import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { randomName } from "@shum/infra/Testing"
import { Effect, Option } from "effect"
import { HotelsRepo } from "../src/Catalogue/HotelsRepo.js"
import {
  countRows,
  insertBooking,
  insertCity,
  insertCountry,
  insertFacility,
  insertHotel,
  insertRoom
} from "./CatalogueFixtures.js"
import { CatalogueRepos } from "./CatalogueRepoLayer.js"

const ids = (rows: ReadonlyArray<{ readonly id: number }>) => rows.map((row) => row.id)
const page = { limit: 20, offset: 0 }

layer(CatalogueRepos, { excludeTestServices: true, timeout: "60 seconds" })("HotelsRepo", (it) => {
  it.effect("list: title and city (partial, c-i, % and _ unescaped), city_id, hotel_id; pages", () =>
    Effect.gen(function* () {
      const repo = yield* HotelsRepo
      const tag = randomName("rh")
      const city = yield* insertCity(undefined, `${tag} Сочи_1`)
      const other = yield* insertCity(undefined, `${tag} Сочи-2`)
      const a = yield* insertHotel(city.id, `${tag} 50% скидка`)
      const b = yield* insertHotel(other.id, `${tag} 500 номеров`)
      const c = yield* insertHotel(other.id, `${tag} Парк`)
      assert.deepStrictEqual(ids(yield* repo.list({ ...page, title: `${tag} 50%` })), [a.id, b.id])
      assert.deepStrictEqual(ids(yield* repo.list({ ...page, title: `${tag} ПАР` })), [c.id])
      assert.deepStrictEqual(ids(yield* repo.list({ ...page, city: `${tag} сочи_` })), [a.id, b.id, c.id])
      assert.deepStrictEqual(ids(yield* repo.list({ ...page, city: `${tag} сочи-` })), [b.id, c.id])
      assert.deepStrictEqual(ids(yield* repo.list({ ...page, city_id: city.id })), [a.id])
      assert.deepStrictEqual(ids(yield* repo.list({ ...page, hotel_id: c.id })), [c.id])
      assert.deepStrictEqual(ids(yield* repo.list({ ...page, hotel_id: c.id, city_id: city.id })), [])
      assert.deepStrictEqual(ids(yield* repo.list({ limit: 2, offset: 2, title: tag })), [c.id])
      assert.deepStrictEqual(yield* repo.list({ limit: 2, offset: 4, title: tag }), [])
    })
  )

  it.effect("list: sort by id, title or city name in either order, id breaking ties; a join, not a cross join", () =>
    Effect.gen(function* () {
      const repo = yield* HotelsRepo
      const tag = randomName("rs")
      const y = yield* insertCity(undefined, `${tag} y`)
      const x = yield* insertCity(undefined, `${tag} x`)
      // more cities and hotels elsewhere: a cross join would multiply the rows
      yield* insertHotel()
      yield* insertHotel()
      const h1 = yield* insertHotel(y.id, `${tag} b`)
      const h2 = yield* insertHotel(x.id, `${tag} c`)
      const h3 = yield* insertHotel(y.id, `${tag} a`)
      const list = (extra: Parameters<typeof repo.list>[0] extends infer F ? Partial<F> : never) =>
        Effect.map(repo.list({ ...page, title: tag, ...extra }), ids)
      assert.deepStrictEqual(yield* list({ sort_by: "id", order: "desc" }), [h3.id, h2.id, h1.id])
      assert.deepStrictEqual(yield* list({ sort_by: "title" }), [h3.id, h1.id, h2.id])
      assert.deepStrictEqual(yield* list({ sort_by: "city" }), [h2.id, h1.id, h3.id])
      assert.deepStrictEqual(yield* list({ sort_by: "city", order: "desc" }), [h3.id, h1.id, h2.id])
      assert.deepStrictEqual(yield* list({ sort_by: "city", city_id: y.id }), [h1.id, h3.id])
      const all = yield* repo.list({ limit: 20, offset: 0, sort_by: "city", city_id: y.id })
      assert.deepStrictEqual(ids(all), [h1.id, h3.id])
    })
  )

  it.effect("findById: city and country names; times as HH:MM:SS, a fraction only when non-zero, null kept", () =>
    Effect.gen(function* () {
      const repo = yield* HotelsRepo
      const sql = yield* SqlClient.SqlClient
      const country = yield* insertCountry()
      const city = yield* insertCity(country.id)
      const hotel = yield* insertHotel(city.id)
      const found = Option.getOrThrow(yield* repo.findById(hotel.id))
      assert.deepStrictEqual(
        { ...found },
        {
          id: hotel.id,
          title: hotel.title,
          address: "ул. Тестовая, 1",
          postal_code: "101000",
          check_in_time: "14:00:00",
          check_out_time: "12:00:00",
          city: city.name,
          country: country.name
        }
      )
      yield* sql`UPDATE hotels SET check_in_time = '09:05:07.250', check_out_time = NULL WHERE id = ${hotel.id}`.pipe(
        Effect.orDie
      )
      const changed = Option.getOrThrow(yield* repo.findById(hotel.id))
      assert.deepStrictEqual([changed.check_in_time, changed.check_out_time], ["09:05:07.25", null])
      assert.isTrue(Option.isNone(yield* repo.findById(999_999)))
    })
  )

  it.effect("cityIdByName: case-insensitive over all countries, the lowest id when several share the name", () =>
    Effect.gen(function* () {
      const repo = yield* HotelsRepo
      const name = randomName("Город-")
      const first = yield* insertCity(undefined, name.toUpperCase())
      yield* insertCity(undefined, name)
      assert.deepStrictEqual(Option.getOrThrow(yield* repo.cityIdByName(name.toLowerCase())).id, first.id)
      assert.isTrue(Option.isNone(yield* repo.cityIdByName(`${name}%`)))
    })
  )

  it.effect("findRow, exists, titleTaken (exact; excluding one id), insert, update, remove with its cascades", () =>
    Effect.gen(function* () {
      const repo = yield* HotelsRepo
      const city = yield* insertCity()
      const title = randomName("Отель-")
      yield* repo.insert({
        title,
        city_id: city.id,
        address: "Адрес",
        postal_code: null,
        check_in_time: "15:00",
        check_out_time: null
      })
      const [hotel] = yield* repo.list({ ...page, title })
      const id = hotel!.id
      assert.deepStrictEqual(
        [hotel?.check_in_time, hotel?.check_out_time, hotel?.postal_code],
        ["15:00:00", null, null]
      )
      assert.deepStrictEqual({ ...Option.getOrThrow(yield* repo.findRow(id)) }, { id, title, city_id: city.id })
      assert.isTrue(yield* repo.exists(id))
      assert.isFalse(yield* repo.exists(999_999))
      assert.isTrue(yield* repo.titleTaken(title))
      assert.isFalse(yield* repo.titleTaken(title.toUpperCase()))
      assert.isFalse(yield* repo.titleTaken(title, id))
      yield* repo.update(id, {})
      yield* repo.update(id, { address: "Новый адрес", check_out_time: "11:30:00" })
      const updated = Option.getOrThrow(yield* repo.findById(id))
      assert.deepStrictEqual(
        [updated.address, updated.check_in_time, updated.check_out_time],
        ["Новый адрес", "15:00:00", "11:30:00"]
      )
      const facility = yield* insertFacility()
      const room = yield* insertRoom(id, { facilityIds: [facility.id] })
      yield* insertBooking(room.id, "2034-01-01", "2034-01-02")
      assert.isTrue(yield* repo.remove(id))
      assert.isFalse(yield* repo.remove(id))
      assert.strictEqual(yield* countRows("rooms", "hotel_id", id), 0)
      assert.strictEqual(yield* countRows("bookings", "room_id", room.id), 0)
      assert.strictEqual(yield* countRows("rooms_facilities", "room_id", room.id), 0)
    })
  )
})

import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { RoomsRepo } from "../src/Catalogue/RoomsRepo.js"
import { countRows, insertBooking, insertFacility, insertHotel, insertRoom } from "./CatalogueFixtures.js"
import { CatalogueRepos } from "./CatalogueRepoLayer.js"

const ids = (rows: ReadonlyArray<{ readonly id: number }>) => rows.map((row) => row.id)

layer(CatalogueRepos, { excludeTestServices: true, timeout: "60 seconds" })("RoomsRepo", (it) => {
  it.effect(
    "listByHotel: that hotel's rooms by id, title filter with wildcards, pages; facilities by id; no hotel",
    () =>
      Effect.gen(function* () {
        const repo = yield* RoomsRepo
        const hotel = yield* insertHotel()
        const f1 = yield* insertFacility("Бассейн")
        const f2 = yield* insertFacility("Аквапарк")
        const a = yield* insertRoom(hotel.id, { title: "Двухместный 100%", facilityIds: [f2.id, f1.id] })
        const b = yield* insertRoom(hotel.id, { title: "двухместный 1000" })
        const c = yield* insertRoom(hotel.id, { title: "Одноместный" })
        yield* insertRoom((yield* insertHotel()).id, { title: "Двухместный 100%" })
        const page = { limit: 20, offset: 0 }
        const list = (q: typeof page & { title?: string }) =>
          Effect.map(repo.listByHotel(hotel.id, q), Option.getOrThrow)
        const all = yield* list(page)
        assert.deepStrictEqual(ids(all), [a.id, b.id, c.id])
        assert.deepStrictEqual(
          all[0]?.facilities.map((f) => ({ ...f })),
          [
            { id: f1.id, title: "Бассейн" },
            { id: f2.id, title: "Аквапарк" }
          ]
        )
        assert.deepStrictEqual(all[2]?.facilities, [])
        assert.deepStrictEqual(ids(yield* list({ ...page, title: "ДВУХМЕСТНЫЙ 100%" })), [a.id, b.id])
        assert.deepStrictEqual(ids(yield* list({ ...page, title: "_дно" })), [c.id])
        assert.deepStrictEqual(ids(yield* list({ limit: 2, offset: 2 })), [c.id])
        assert.deepStrictEqual(yield* list({ limit: 2, offset: 4 }), [])
        assert.deepStrictEqual(yield* list({ ...page, title: "нет такого" }), [])
        const empty = yield* insertHotel()
        assert.deepStrictEqual(yield* repo.listByHotel(empty.id, page), Option.some([]))
        assert.isTrue(Option.isNone(yield* repo.listByHotel(999_999, page)))
      })
  )

  it.effect("findById, findHotelId", () =>
    Effect.gen(function* () {
      const repo = yield* RoomsRepo
      const h1 = yield* insertHotel()
      const h2 = yield* insertHotel()
      const r2 = yield* insertRoom(h2.id)
      const r1 = yield* insertRoom(h1.id, { price: 2500, quantity: 4 })
      const room = Option.getOrThrow(yield* repo.findById(r1.id))
      assert.deepStrictEqual(
        [room.hotel_id, room.title, room.description, room.price, room.quantity],
        [h1.id, r1.title, "описание", 2500, 4]
      )
      assert.isTrue(Option.isNone(yield* repo.findById(999_999)))
      assert.strictEqual(Option.getOrThrow(yield* repo.findHotelId(r2.id)).hotel_id, h2.id)
      assert.isTrue(Option.isNone(yield* repo.findHotelId(999_999)))
    })
  )

  it.effect("insert, update (partial; null clears the description), setFacilities, missingFacilities, remove", () =>
    Effect.gen(function* () {
      const repo = yield* RoomsRepo
      const sql = yield* SqlClient.SqlClient
      const hotel = yield* insertHotel()
      const [f1, f2, f3] = [yield* insertFacility(), yield* insertFacility(), yield* insertFacility()]
      assert.deepStrictEqual(yield* repo.missingFacilities([]), [])
      assert.deepStrictEqual(yield* repo.missingFacilities([999_998, f1!.id, 999_997]), [999_998, 999_997])
      const id = yield* repo.insert(hotel.id, { title: "Люкс", description: null, price: 9000, quantity: 1 })
      yield* repo.update(id, {})
      yield* repo.update(id, { description: "С видом", quantity: 2 })
      const room = Option.getOrThrow(yield* repo.findById(id))
      assert.deepStrictEqual([room.title, room.description, room.price, room.quantity], ["Люкс", "С видом", 9000, 2])
      yield* repo.update(id, { description: null })
      assert.isNull(Option.getOrThrow(yield* repo.findById(id)).description)
      const facilities = Effect.map(repo.findById(id), (r) => Option.getOrThrow(r).facilities.map((f) => f.id))
      yield* repo.setFacilities(id, [f3!.id, f1!.id]).pipe(sql.withTransaction, Effect.orDie)
      assert.deepStrictEqual(yield* facilities, [f1!.id, f3!.id])
      yield* repo.setFacilities(id, [f2!.id, f3!.id])
      assert.deepStrictEqual(yield* facilities, [f2!.id, f3!.id])
      yield* repo.setFacilities(id, [])
      assert.deepStrictEqual(yield* facilities, [])
      yield* repo.setFacilities(id, [f1!.id])
      yield* insertBooking(id, "2035-01-01", "2035-01-03")
      yield* repo.remove(id)
      assert.isTrue(Option.isNone(yield* repo.findById(id)))
      assert.strictEqual(yield* countRows("bookings", "room_id", id), 0)
      assert.strictEqual(yield* countRows("rooms_facilities", "room_id", id), 0)
    })
  )
})

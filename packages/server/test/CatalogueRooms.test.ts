import { assert, layer } from "@effect/vitest"
import { BadRequest, NotFound } from "@shum/domain/Errors"
import { randomName } from "@shum/infra/Testing"
import { Effect } from "effect"
import { callers, countRows, insertBooking, insertFacility, insertHotel, insertRoom, raw } from "./CatalogueFixtures.js"
import { TestServer } from "./support.js"

const hotelMissing = new NotFound({ detail: "Отель с ID 999999 не найден" })
const otherHotel = new BadRequest({ detail: "Номер не принадлежит указанному отелю" })

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("rooms (docs/api.md §8.6)", (it) => {
  it.effect("R1: hotel 404 E-12; by id, filtered by title, paginated; facilities ordered by id", () =>
    Effect.gen(function* () {
      const { anonymous } = yield* callers
      const missing = yield* Effect.flip(anonymous.rooms.list({ path: { hotel_id: 999_999 }, urlParams: {} }))
      assert.deepStrictEqual(missing, new NotFound({ detail: "Отель не найден" }))
      const hotel = yield* insertHotel()
      const wifi = yield* insertFacility("Wi-Fi")
      const safe = yield* insertFacility("Сейф")
      const a = yield* insertRoom(hotel.id, { title: "Стандарт", facilityIds: [safe.id, wifi.id] })
      const b = yield* insertRoom(hotel.id, { title: "Стандарт_плюс" })
      const c = yield* insertRoom(hotel.id, { title: "Люкс" })
      yield* insertRoom((yield* insertHotel()).id, { title: "Стандарт" })
      const path = { hotel_id: hotel.id }
      const all = yield* anonymous.rooms.list({ path, urlParams: {} })
      assert.deepStrictEqual(
        all.map((room) => room.id),
        [a.id, b.id, c.id]
      )
      assert.deepStrictEqual(
        all[0]?.facilities.map((f) => [f.id, f.title]),
        [
          [wifi.id, "Wi-Fi"],
          [safe.id, "Сейф"]
        ]
      )
      assert.deepStrictEqual(all[1]?.facilities, [])
      const filtered = yield* anonymous.rooms.list({ path, urlParams: { title: "СТАНДАРТ" } })
      assert.deepStrictEqual(
        filtered.map((room) => room.id),
        [a.id, b.id]
      )
      const wildcard = yield* anonymous.rooms.list({ path, urlParams: { title: "т_плюс" } })
      assert.deepStrictEqual(
        wildcard.map((room) => room.id),
        [b.id]
      )
      const page = yield* anonymous.rooms.list({ path, urlParams: { page: 2, per_page: 2 } })
      assert.deepStrictEqual(
        page.map((room) => room.id),
        [c.id]
      )
      assert.deepStrictEqual(yield* anonymous.rooms.list({ path, urlParams: { page: 3, per_page: 2 } }), [])
      const response = yield* raw("GET", `/hotels/${hotel.id}/rooms?per_page=20`)
      const [first] = response.json as Array<Record<string, unknown>>
      assert.deepStrictEqual(Object.keys(first!), [
        "id",
        "hotel_id",
        "title",
        "description",
        "price",
        "quantity",
        "facilities"
      ])
      assert.strictEqual((yield* raw("GET", `/hotels/${hotel.id}/rooms?per_page=21`)).status, 422)
    })
  )

  it.effect("R3: hotel 404 E-12 → room 404 E-17 → another hotel's room 404 E-18", () =>
    Effect.gen(function* () {
      const { anonymous } = yield* callers
      const hotel = yield* insertHotel()
      const room = yield* insertRoom(hotel.id, { price: 3000, quantity: 5 })
      const found = yield* anonymous.rooms.get({ path: { hotel_id: hotel.id, room_id: room.id } })
      assert.deepStrictEqual([found.title, found.price, found.quantity], [room.title, 3000, 5])
      const noHotel = yield* Effect.flip(anonymous.rooms.get({ path: { hotel_id: 999_999, room_id: room.id } }))
      assert.deepStrictEqual(noHotel, new NotFound({ detail: "Отель не найден" }))
      const noRoom = yield* Effect.flip(anonymous.rooms.get({ path: { hotel_id: hotel.id, room_id: 999_999 } }))
      assert.deepStrictEqual(noRoom, new NotFound({ detail: "Номер не найден" }))
      const other = yield* insertHotel()
      const elsewhere = yield* Effect.flip(anonymous.rooms.get({ path: { hotel_id: other.id, room_id: room.id } }))
      assert.deepStrictEqual(elsewhere, new NotFound({ detail: "Номер не принадлежит указанному отелю" }))
    })
  )

  it.effect("R4: hotel 404 E-10 → unknown facility 404 and nothing created; repeated ids linked once", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const hotel = yield* insertHotel()
      const path = { hotel_id: hotel.id }
      const payload = { title: randomName("Номер-"), price: 3000, quantity: 5 }
      assert.deepStrictEqual(
        yield* Effect.flip(admin.rooms.create({ path: { hotel_id: 999_999 }, payload })),
        hotelMissing
      )
      const wifi = yield* insertFacility()
      const safe = yield* insertFacility()
      const unknown = yield* Effect.flip(
        admin.rooms.create({ path, payload: { ...payload, facility_ids: [wifi.id, 999_998, 999_997] } })
      )
      assert.deepStrictEqual(unknown, new NotFound({ detail: "Удобство с ID 999998 не найден" }))
      assert.strictEqual(yield* countRows("rooms", "hotel_id", hotel.id), 0)
      yield* admin.rooms.create({ path, payload: { ...payload, facility_ids: [safe.id, wifi.id, safe.id] } })
      const [room] = yield* admin.rooms.list({ path, urlParams: {} })
      assert.deepStrictEqual(
        [room?.title, room?.description, room?.price, room?.quantity],
        [payload.title, null, 3000, 5]
      )
      assert.deepStrictEqual(
        room?.facilities.map((f) => f.id),
        [wifi.id, safe.id].sort((x, y) => x - y)
      )
      const negative = yield* raw("POST", `/hotels/${hotel.id}/rooms`, {
        admin: true,
        body: { ...payload, price: -1 }
      })
      assert.strictEqual(negative.status, 422)
      const fractional = yield* raw("POST", `/hotels/${hotel.id}/rooms`, {
        admin: true,
        body: { ...payload, quantity: 1.5 }
      })
      assert.strictEqual(fractional.status, 422)
    })
  )

  it.effect("R5: hotel 404 → room 404 E-10 → other hotel 400; null description kept; links by facility_ids", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const hotel = yield* insertHotel()
      const wifi = yield* insertFacility()
      const safe = yield* insertFacility()
      const room = yield* insertRoom(hotel.id, { facilityIds: [wifi.id] })
      const path = { hotel_id: hotel.id, room_id: room.id }
      const payload = { title: "Новый", price: 4000, quantity: 3 }
      assert.deepStrictEqual(
        yield* Effect.flip(admin.rooms.update({ path: { ...path, hotel_id: 999_999 }, payload })),
        hotelMissing
      )
      const noRoom = yield* Effect.flip(admin.rooms.update({ path: { ...path, room_id: 999_999 }, payload }))
      assert.deepStrictEqual(noRoom, new NotFound({ detail: "Номер с ID 999999 не найден" }))
      const other = yield* insertHotel()
      assert.deepStrictEqual(
        yield* Effect.flip(admin.rooms.update({ path: { ...path, hotel_id: other.id }, payload })),
        otherHotel
      )
      const facilities = () => Effect.map(admin.rooms.get({ path }), (r) => r.facilities.map((f) => f.id))
      yield* admin.rooms.update({ path, payload: { ...payload, description: null } })
      let current = yield* admin.rooms.get({ path })
      assert.deepStrictEqual(
        [current.title, current.description, current.price, current.quantity],
        ["Новый", "описание", 4000, 3]
      )
      assert.deepStrictEqual(yield* facilities(), [wifi.id])
      yield* admin.rooms.update({ path, payload: { ...payload, facility_ids: [safe.id, safe.id] } })
      assert.deepStrictEqual(yield* facilities(), [safe.id])
      const unknown = yield* Effect.flip(
        admin.rooms.update({ path, payload: { ...payload, title: "Не сохранится", facility_ids: [wifi.id, 999_996] } })
      )
      assert.deepStrictEqual(unknown, new NotFound({ detail: "Удобство с ID 999996 не найден" }))
      current = yield* admin.rooms.get({ path })
      assert.strictEqual(current.title, "Новый")
      assert.deepStrictEqual(yield* facilities(), [safe.id])
      yield* admin.rooms.update({ path, payload: { ...payload, description: "Свежий", facility_ids: [] } })
      assert.deepStrictEqual(yield* facilities(), [])
      assert.strictEqual((yield* admin.rooms.get({ path })).description, "Свежий")
    })
  )

  it.effect("R6: the checks of PUT; writes what is sent, null clears the description, facility_ids ignored", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const hotel = yield* insertHotel()
      const wifi = yield* insertFacility()
      const room = yield* insertRoom(hotel.id, { facilityIds: [wifi.id], price: 1000, quantity: 2 })
      const path = { hotel_id: hotel.id, room_id: room.id }
      assert.deepStrictEqual(
        yield* Effect.flip(admin.rooms.patch({ path: { ...path, hotel_id: 999_999 }, payload: {} })),
        hotelMissing
      )
      const noRoom = yield* Effect.flip(admin.rooms.patch({ path: { ...path, room_id: 999_999 }, payload: {} }))
      assert.deepStrictEqual(noRoom, new NotFound({ detail: "Номер с ID 999999 не найден" }))
      const other = yield* insertHotel()
      assert.deepStrictEqual(
        yield* Effect.flip(admin.rooms.patch({ path: { ...path, hotel_id: other.id }, payload: {} })),
        otherHotel
      )
      assert.deepStrictEqual(yield* admin.rooms.patch({ path, payload: {} }), { status: "OK" })
      yield* admin.rooms.patch({ path, payload: { price: 1500, description: null, facility_ids: [] } })
      const patched = yield* admin.rooms.get({ path })
      assert.deepStrictEqual(
        [patched.title, patched.description, patched.price, patched.quantity],
        [room.title, null, 1500, 2]
      )
      assert.deepStrictEqual(
        patched.facilities.map((f) => f.id),
        [wifi.id]
      )
      const nullTitle = yield* raw("PATCH", `/hotels/${hotel.id}/rooms/${room.id}`, {
        admin: true,
        body: { title: null }
      })
      assert.strictEqual(nullTitle.status, 422)
    })
  )

  it.effect("R7: hotel 404 E-10 → room 404 E-17 → other hotel 400 E-18; cascades bookings and links", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const hotel = yield* insertHotel()
      const wifi = yield* insertFacility()
      const room = yield* insertRoom(hotel.id, { facilityIds: [wifi.id] })
      yield* insertBooking(room.id, "2031-02-01", "2031-02-04")
      const path = { hotel_id: hotel.id, room_id: room.id }
      assert.deepStrictEqual(
        yield* Effect.flip(admin.rooms.delete({ path: { ...path, hotel_id: 999_999 } })),
        hotelMissing
      )
      const noRoom = yield* Effect.flip(admin.rooms.delete({ path: { ...path, room_id: 999_999 } }))
      assert.deepStrictEqual(noRoom, new NotFound({ detail: "Номер не найден" }))
      const other = yield* insertHotel()
      assert.deepStrictEqual(
        yield* Effect.flip(admin.rooms.delete({ path: { ...path, hotel_id: other.id } })),
        otherHotel
      )
      assert.deepStrictEqual(yield* admin.rooms.delete({ path }), { status: "OK" })
      assert.strictEqual(yield* countRows("rooms", "id", room.id), 0)
      assert.strictEqual(yield* countRows("bookings", "room_id", room.id), 0)
      assert.strictEqual(yield* countRows("rooms_facilities", "room_id", room.id), 0)
      assert.strictEqual(yield* countRows("facilities", "id", wifi.id), 1)
    })
  )

  it.effect("D2: lowering quantity below the units sold on a future night → 409, and the whole PUT is undone", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const hotel = yield* insertHotel()
      const wifi = yield* insertFacility()
      const room = yield* insertRoom(hotel.id, { quantity: 3, price: 1000 })
      yield* insertBooking(room.id, "2036-06-01", "2036-06-03")
      yield* insertBooking(room.id, "2036-06-02", "2036-06-04")
      const path = { hotel_id: hotel.id, room_id: room.id }
      const lowered = yield* Effect.flip(
        admin.rooms.update({ path, payload: { title: "Другой", price: 1, quantity: 1, facility_ids: [wifi.id] } })
      )
      // 409 from the database's inventory CHECK (the bookings work owns its message)
      assert.include(["Conflict", "IntegrityViolation"], lowered._tag)
      const unchanged = yield* admin.rooms.get({ path })
      assert.deepStrictEqual([unchanged.title, unchanged.quantity, unchanged.facilities], [room.title, 3, []])
      const patched = yield* Effect.flip(admin.rooms.patch({ path, payload: { quantity: 1 } }))
      assert.include(["Conflict", "IntegrityViolation"], patched._tag)
      yield* admin.rooms.patch({ path, payload: { quantity: 2 } })
      assert.strictEqual((yield* admin.rooms.get({ path })).quantity, 2)
    })
  )

  it.effect("D1: writes are admin-only (anonymous 401, user 403)", () =>
    Effect.gen(function* () {
      const { anonymous, user } = yield* callers
      const hotel = yield* insertHotel()
      const room = yield* insertRoom(hotel.id)
      const path = { hotel_id: hotel.id, room_id: room.id }
      const payload = { title: "x", price: 1, quantity: 1 }
      const attempts = (api: typeof anonymous) => [
        api.rooms.create({ path: { hotel_id: hotel.id }, payload }),
        api.rooms.update({ path, payload }),
        api.rooms.patch({ path, payload: {} }),
        api.rooms.delete({ path })
      ]
      for (const attempt of attempts(anonymous)) assert.strictEqual((yield* Effect.flip(attempt))._tag, "Unauthorized")
      for (const attempt of attempts(user)) assert.strictEqual((yield* Effect.flip(attempt))._tag, "Forbidden")
      assert.strictEqual((yield* anonymous.rooms.get({ path })).id, room.id)
    })
  )
})

import { assert, layer } from "@effect/vitest"
import { NotFound } from "@shum/domain/Errors"
import { randomName } from "@shum/infra/Testing"
import { Effect } from "effect"
import { callers, countRows, insertFacility, insertHotel, insertRoom, raw } from "./CatalogueFixtures.js"
import { TestServer } from "./support.js"

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("facilities (docs/api.md §8.4)", (it) => {
  it.effect("F1: by id, filtered by title (partial, c-i, % and _ as wildcards), paginated", () =>
    Effect.gen(function* () {
      const { anonymous } = yield* callers
      const tag = randomName("fq")
      const a = yield* insertFacility(`${tag} Wi-Fi`)
      const b = yield* insertFacility(`${tag} WI_FI 5G`)
      const c = yield* insertFacility(`${tag} Сейф`)
      const found = yield* anonymous.facilities.list({ urlParams: { title: `${tag} wi` } })
      assert.deepStrictEqual(
        found.map((f) => f.id),
        [a.id, b.id]
      )
      const underscore = yield* anonymous.facilities.list({ urlParams: { title: `${tag} wi_fi` } })
      assert.deepStrictEqual(
        underscore.map((f) => f.id),
        [a.id, b.id]
      )
      const percent = yield* anonymous.facilities.list({ urlParams: { title: `${tag}%ф` } })
      assert.deepStrictEqual(
        percent.map((f) => f.id),
        [c.id]
      )
      const page = yield* anonymous.facilities.list({ urlParams: { title: tag, page: 2, per_page: 2 } })
      assert.deepStrictEqual(
        page.map((f) => f.id),
        [c.id]
      )
      assert.deepStrictEqual(yield* anonymous.facilities.list({ urlParams: { title: tag, page: 9 } }), [])
      assert.strictEqual((yield* raw("GET", "/facilities?per_page=0")).status, 422)
      assert.strictEqual((yield* raw("GET", "/facilities?per_page=20")).status, 200)
    })
  )

  it.effect("F2: one facility; unknown → 404 `Удобство не найдено`", () =>
    Effect.gen(function* () {
      const { anonymous } = yield* callers
      const facility = yield* insertFacility()
      assert.deepStrictEqual(
        { ...(yield* anonymous.facilities.get({ path: { facility_id: facility.id } })) },
        { id: facility.id, title: facility.title }
      )
      const missing = yield* Effect.flip(anonymous.facilities.get({ path: { facility_id: 999_999 } }))
      assert.deepStrictEqual(missing, new NotFound({ detail: "Удобство не найдено" }))
    })
  )

  it.effect("F3: titles need not be unique; a title over 100 characters → 422", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const title = randomName("Кондиционер-")
      const first = yield* admin.facilities.create({ payload: { title } })
      const second = yield* admin.facilities.create({ payload: { title } })
      assert.deepStrictEqual([first.status, second.status, second.id > first.id], ["OK", "OK", true])
      assert.strictEqual((yield* admin.facilities.list({ urlParams: { title } })).length, 2)
      const long = yield* raw("POST", "/facilities", { admin: true, body: { title: "я".repeat(101) } })
      assert.strictEqual(long.status, 422)
    })
  )

  it.effect("F4: 404 `Удобство не найдено`; deleting removes the facility from every room", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const missing = yield* Effect.flip(admin.facilities.delete({ path: { facility_id: 999_999 } }))
      assert.deepStrictEqual(missing, new NotFound({ detail: "Удобство не найдено" }))
      const facility = yield* insertFacility()
      const hotel = yield* insertHotel()
      const room = yield* insertRoom(hotel.id, { facilityIds: [facility.id] })
      yield* admin.facilities.delete({ path: { facility_id: facility.id } })
      assert.strictEqual(yield* countRows("rooms_facilities", "room_id", room.id), 0)
      const after = yield* admin.rooms.get({ path: { hotel_id: hotel.id, room_id: room.id } })
      assert.deepStrictEqual(after.facilities, [])
    })
  )

  it.effect("D1: writes are admin-only (anonymous 401, user 403)", () =>
    Effect.gen(function* () {
      const { anonymous, user } = yield* callers
      const facility = yield* insertFacility()
      const attempts = (api: typeof anonymous) => [
        api.facilities.create({ payload: { title: "x" } }),
        api.facilities.delete({ path: { facility_id: facility.id } })
      ]
      for (const attempt of attempts(anonymous)) assert.strictEqual((yield* Effect.flip(attempt))._tag, "Unauthorized")
      for (const attempt of attempts(user)) assert.strictEqual((yield* Effect.flip(attempt))._tag, "Forbidden")
    })
  )
})

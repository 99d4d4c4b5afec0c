import { assert, layer } from "@effect/vitest"
import { Conflict, IntegrityViolation, NotFound } from "@shum/domain/Errors"
import { randomName } from "@shum/infra/Testing"
import { Effect } from "effect"
import { callers, insertCity, insertCountry, insertHotel, raw } from "./CatalogueFixtures.js"
import { TestServer } from "./support.js"

const cityNameTaken = (name: string) => new Conflict({ detail: `Город с название '${name}' уже существует` })

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("cities (docs/api.md §8.3)", (it) => {
  it.effect("Y1: with the nested country, by id, filtered by name (partial, c-i) and country_id, paginated", () =>
    Effect.gen(function* () {
      const { anonymous } = yield* callers
      const tag = randomName("yq")
      const country = yield* insertCountry()
      const a = yield* insertCity(country.id, `${tag}-Москва`)
      const b = yield* insertCity(undefined, `${tag}-москва-2`)
      const c = yield* insertCity(country.id, `${tag}-Казань`)
      const byName = yield* anonymous.cities.list({ urlParams: { name: `${tag}-МОСКВА` } })
      assert.deepStrictEqual(
        byName.map((city) => city.id),
        [a.id, b.id]
      )
      const inCountry = yield* anonymous.cities.list({ urlParams: { name: tag, country_id: country.id } })
      assert.deepStrictEqual(
        inCountry.map((city) => city.id),
        [a.id, c.id]
      )
      assert.deepStrictEqual(
        inCountry[0]?.country,
        yield* anonymous.countries.get({ path: { country_id: country.id } })
      )
      const wildcard = yield* anonymous.cities.list({ urlParams: { name: `${tag}-_оск%2` } })
      assert.deepStrictEqual(
        wildcard.map((city) => city.id),
        [b.id]
      )
      const page = yield* anonymous.cities.list({ urlParams: { name: tag, per_page: 1, page: 3 } })
      assert.deepStrictEqual(
        page.map((city) => city.id),
        [c.id]
      )
      assert.deepStrictEqual(yield* anonymous.cities.list({ urlParams: { name: tag, per_page: 1, page: 4 } }), [])
      const response = yield* raw("GET", `/cities?name=${tag}&per_page=20`)
      assert.strictEqual(response.status, 200)
      const [first] = response.json as Array<Record<string, unknown>>
      assert.deepStrictEqual(Object.keys(first!), ["id", "name", "country"])
      assert.deepStrictEqual(Object.keys(first!["country"] as object), ["id", "name", "iso_code"])
      assert.strictEqual((yield* raw("GET", "/cities?per_page=21")).status, 422)
      assert.strictEqual((yield* raw("GET", "/cities?country_id=x")).status, 422)
    })
  )

  it.effect("Y2: one city; unknown → 404 `Город не найдено`", () =>
    Effect.gen(function* () {
      const { anonymous } = yield* callers
      const city = yield* insertCity()
      const found = yield* anonymous.cities.get({ path: { city_id: city.id } })
      assert.deepStrictEqual([found.id, found.name, found.country?.id], [city.id, city.name, city.countryId])
      const missing = yield* Effect.flip(anonymous.cities.get({ path: { city_id: 999_999 } }))
      assert.deepStrictEqual(missing, new NotFound({ detail: "Город не найдено" }))
    })
  )

  it.effect("Y3: unknown country → 404 E-10; the same exact name in that country → 409; elsewhere allowed", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const name = randomName("Город-")
      const noCountry = yield* Effect.flip(admin.cities.create({ payload: { name, country_id: 999_999 } }))
      assert.deepStrictEqual(noCountry, new NotFound({ detail: "Страна с ID 999999 не найден" }))
      const country = yield* insertCountry()
      const created = yield* admin.cities.create({ payload: { name, country_id: country.id } })
      assert.strictEqual(created.status, "OK")
      assert.strictEqual((yield* admin.cities.get({ path: { city_id: created.id } })).name, name)
      const again = yield* Effect.flip(admin.cities.create({ payload: { name, country_id: country.id } }))
      assert.deepStrictEqual(again, cityNameTaken(name))
      // exact comparison: another letter case is another name
      yield* admin.cities.create({ payload: { name: name.toUpperCase(), country_id: country.id } })
      const other = yield* insertCountry()
      yield* admin.cities.create({ payload: { name, country_id: other.id } })
      assert.strictEqual((yield* admin.cities.list({ urlParams: { name } })).length, 3)
      assert.strictEqual((yield* raw("POST", "/cities", { admin: true, body: { name } })).status, 422)
    })
  )

  it.effect("Y4: city 404 → country 404 → another city with that name in the target country → 409", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const country = yield* insertCountry()
      const city = yield* insertCity(country.id)
      const missing = yield* Effect.flip(
        admin.cities.update({ path: { city_id: 999_999 }, payload: { name: "x", country_id: 999_998 } })
      )
      assert.deepStrictEqual(missing, new NotFound({ detail: "Город с ID 999999 не найден" }))
      const noCountry = yield* Effect.flip(
        admin.cities.update({ path: { city_id: city.id }, payload: { name: "x", country_id: 999_998 } })
      )
      assert.deepStrictEqual(noCountry, new NotFound({ detail: "Страна с ID 999998 не найден" }))
      yield* admin.cities.update({ path: { city_id: city.id }, payload: { name: city.name, country_id: country.id } })
      const sibling = yield* insertCity(country.id)
      const taken = yield* Effect.flip(
        admin.cities.update({ path: { city_id: city.id }, payload: { name: sibling.name, country_id: country.id } })
      )
      assert.deepStrictEqual(taken, cityNameTaken(sibling.name))
      const elsewhere = yield* insertCountry()
      yield* admin.cities.update({
        path: { city_id: city.id },
        payload: { name: sibling.name, country_id: elsewhere.id }
      })
      const moved = yield* admin.cities.get({ path: { city_id: city.id } })
      assert.deepStrictEqual([moved.name, moved.country?.id], [sibling.name, elsewhere.id])
    })
  )

  it.effect("Y5: null = absent; uniqueness on the final (name, country) pair (the original's 500 fixed)", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const missing = yield* Effect.flip(admin.cities.patch({ path: { city_id: 999_999 }, payload: {} }))
      assert.deepStrictEqual(missing, new NotFound({ detail: "Город с ID 999999 не найден" }))
      const home = yield* insertCountry()
      const away = yield* insertCountry()
      const city = yield* insertCity(home.id)
      const path = { city_id: city.id }
      yield* admin.cities.patch({ path, payload: {} })
      yield* admin.cities.patch({ path, payload: { name: null, country_id: null } })
      yield* admin.cities.patch({ path, payload: { name: city.name } })
      const noCountry = yield* Effect.flip(admin.cities.patch({ path, payload: { country_id: 999_998 } }))
      assert.deepStrictEqual(noCountry, new NotFound({ detail: "Страна с ID 999998 не найден" }))
      yield* insertCity(away.id, city.name)
      const clash = yield* Effect.flip(admin.cities.patch({ path, payload: { country_id: away.id } }))
      assert.deepStrictEqual(clash, cityNameTaken(city.name))
      const renamed = randomName("Город-")
      yield* admin.cities.patch({ path, payload: { name: renamed } })
      yield* admin.cities.patch({ path, payload: { country_id: away.id } })
      const moved = yield* admin.cities.get({ path })
      assert.deepStrictEqual([moved.name, moved.country?.id], [renamed, away.id])
      assert.strictEqual((yield* raw("PATCH", `/cities/${city.id}`, { admin: true, body: { name: 5 } })).status, 422)
    })
  )

  it.effect("Y6: 404 `Город не найден`; a city with hotels → 409 E-90 and stays; without → deleted", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const missing = yield* Effect.flip(admin.cities.delete({ path: { city_id: 999_999 } }))
      assert.deepStrictEqual(missing, new NotFound({ detail: "Город не найден" }))
      const hotel = yield* insertHotel()
      const refused = yield* Effect.flip(admin.cities.delete({ path: { city_id: hotel.cityId } }))
      assert.deepStrictEqual(
        refused,
        new IntegrityViolation({
          detail: "Нарушение целостности данных. Возможно, запись уже существует или нарушены ограничения."
        })
      )
      assert.strictEqual((yield* admin.hotels.get({ path: { hotel_id: hotel.id } })).id, hotel.id)
      const empty = yield* insertCity()
      yield* admin.cities.delete({ path: { city_id: empty.id } })
      assert.strictEqual((yield* Effect.flip(admin.cities.get({ path: { city_id: empty.id } })))._tag, "NotFound")
    })
  )

  it.effect("D1: writes are admin-only (anonymous 401, user 403)", () =>
    Effect.gen(function* () {
      const { anonymous, user } = yield* callers
      const city = yield* insertCity()
      const path = { city_id: city.id }
      const payload = { name: randomName("x"), country_id: city.countryId }
      const attempts = (api: typeof anonymous) => [
        api.cities.create({ payload }),
        api.cities.update({ path, payload }),
        api.cities.patch({ path, payload: {} }),
        api.cities.delete({ path })
      ]
      for (const attempt of attempts(anonymous)) assert.strictEqual((yield* Effect.flip(attempt))._tag, "Unauthorized")
      for (const attempt of attempts(user)) assert.strictEqual((yield* Effect.flip(attempt))._tag, "Forbidden")
      assert.strictEqual((yield* anonymous.cities.get({ path })).id, city.id)
    })
  )
})

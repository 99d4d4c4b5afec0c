import { assert, layer } from "@effect/vitest"
import { Conflict, IntegrityViolation, NotFound } from "@shum/domain/Errors"
import { randomName } from "@shum/infra/Testing"
import { Effect } from "effect"
import { callers, insertCity, insertCountry, raw } from "./CatalogueFixtures.js"
import { detailOf, TestServer } from "./support.js"

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("countries (docs/api.md §8.2)", (it) => {
  it.effect("C1: by id, filtered by name (partial, case-insensitive, % and _ as wildcards), paginated", () =>
    Effect.gen(function* () {
      const { anonymous } = yield* callers
      const tag = randomName("zq")
      const a = yield* insertCountry(`${tag}-Альфа`)
      const b = yield* insertCountry(`${tag}-альфа_x`)
      const c = yield* insertCountry(`${tag}-Бета`)
      const found = yield* anonymous.countries.list({ urlParams: { name: `${tag.toUpperCase()}-АЛЬФА` } })
      assert.deepStrictEqual(
        found.map((country) => country.id),
        [a.id, b.id]
      )
      const wildcard = yield* anonymous.countries.list({ urlParams: { name: `${tag}-%а` } })
      assert.deepStrictEqual(
        wildcard.map((country) => country.id),
        [a.id, b.id, c.id]
      )
      const underscore = yield* anonymous.countries.list({ urlParams: { name: `${tag}-_ета` } })
      assert.deepStrictEqual(
        underscore.map((country) => country.id),
        [c.id]
      )
      const page2 = yield* anonymous.countries.list({ urlParams: { name: tag, page: 2, per_page: 2 } })
      assert.deepStrictEqual(
        page2.map((country) => country.id),
        [c.id]
      )
      assert.deepStrictEqual(yield* anonymous.countries.list({ urlParams: { name: tag, page: 3, per_page: 2 } }), [])
      assert.strictEqual((yield* anonymous.countries.list({ urlParams: { per_page: 20 } })).length <= 20, true)
      const everything = yield* anonymous.countries.list({ urlParams: { name: "", per_page: 20 } })
      assert.isAtLeast(everything.length, 3)
      assert.strictEqual((yield* raw("GET", "/countries?per_page=21")).status, 422)
      assert.strictEqual((yield* raw("GET", "/countries?page=0")).status, 422)
    })
  )

  it.effect("C2: one country, with the fields in the contract's order; unknown → 404 `Страна не найден`", () =>
    Effect.gen(function* () {
      const { anonymous } = yield* callers
      const country = yield* insertCountry()
      const response = yield* raw("GET", `/countries/${country.id}`)
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(Object.keys(response.json as object), ["id", "name", "iso_code"])
      assert.strictEqual((yield* anonymous.countries.get({ path: { country_id: country.id } })).name, country.name)
      const missing = yield* Effect.flip(anonymous.countries.get({ path: { country_id: 999_999 } }))
      assert.deepStrictEqual(missing, new NotFound({ detail: "Страна не найден" }))
    })
  )

  it.effect("C3: ISO stored upper-cased; name taken case-insensitively or ISO taken → 409; bad body → 422", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const name = randomName("Страна-")
      const answer = yield* admin.countries.create({ payload: { name, iso_code: "qa" } })
      const [created] = yield* admin.countries.list({ urlParams: { name } })
      assert.deepStrictEqual(answer, { status: "OK", id: created!.id })
      assert.strictEqual(created?.iso_code, "QA")
      const sameName = yield* Effect.flip(
        admin.countries.create({ payload: { name: name.toUpperCase(), iso_code: "QB" } })
      )
      assert.deepStrictEqual(
        sameName,
        new Conflict({ detail: `Страна с название '${name.toUpperCase()}' уже существует` })
      )
      const sameIso = yield* Effect.flip(admin.countries.create({ payload: { name: randomName("x"), iso_code: "qa" } }))
      assert.deepStrictEqual(sameIso, new Conflict({ detail: "Страна с ISO код 'QA' уже существует" }))
      const tooLong = yield* raw("POST", "/countries", { admin: true, body: { name: "x", iso_code: "ABC" } })
      assert.strictEqual(tooLong.status, 422)
      const missing = yield* raw("POST", "/countries", { admin: true, body: { name: "x" } })
      assert.strictEqual(missing.status, 422)
      // two characters that upper-case to three ("ß" → "SS") would not fit the column: 422, not 500
      for (const [method, url] of [
        ["POST", "/countries"],
        ["PATCH", `/countries/${created!.id}`]
      ] as const) {
        const grows = yield* raw(method, url, { admin: true, body: { name: randomName("x"), iso_code: "ßa" } })
        assert.strictEqual(grows.status, 422, method)
        assert.deepInclude((grows.json as { detail: Array<unknown> }).detail[0], {
          type: "value_error",
          loc: ["body", "iso_code"],
          msg: "Value error, the code must stay two characters when upper-cased"
        })
      }
    })
  )

  it.effect("C4: 404 E-10; a case-only change of its own name succeeds (D9); another's name or ISO → 409", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const missing = yield* Effect.flip(
        admin.countries.update({ path: { country_id: 999_999 }, payload: { name: "x", iso_code: "XX" } })
      )
      assert.deepStrictEqual(missing, new NotFound({ detail: "Страна с ID 999999 не найден" }))
      const name = randomName("страна-")
      yield* admin.countries.create({ payload: { name, iso_code: "rb" } })
      const [country] = yield* admin.countries.list({ urlParams: { name } })
      const id = country!.id
      yield* admin.countries.update({ path: { country_id: id }, payload: { name: name.toUpperCase(), iso_code: "rb" } })
      const renamed = yield* admin.countries.get({ path: { country_id: id } })
      assert.deepStrictEqual([renamed.name, renamed.iso_code], [name.toUpperCase(), "RB"])
      const other = yield* insertCountry()
      const nameTaken = yield* Effect.flip(
        admin.countries.update({
          path: { country_id: id },
          payload: { name: other.name.toLowerCase(), iso_code: "RB" }
        })
      )
      assert.strictEqual(nameTaken._tag, "Conflict")
      assert.strictEqual(detailOf(nameTaken), `Страна с название '${other.name.toLowerCase()}' уже существует`)
      const otherIso = (yield* admin.countries.get({ path: { country_id: other.id } })).iso_code
      const isoTaken = yield* Effect.flip(
        admin.countries.update({ path: { country_id: id }, payload: { name, iso_code: otherIso } })
      )
      assert.deepStrictEqual(isoTaken, new Conflict({ detail: `Страна с ISO код '${otherIso}' уже существует` }))
    })
  )

  it.effect("C5: null = absent; nothing sent → 200 after the existence check; the checks of PUT", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const missing = yield* Effect.flip(admin.countries.patch({ path: { country_id: 999_999 }, payload: {} }))
      assert.deepStrictEqual(missing, new NotFound({ detail: "Страна с ID 999999 не найден" }))
      const country = yield* insertCountry()
      yield* admin.countries.patch({ path: { country_id: country.id }, payload: {} })
      yield* admin.countries.patch({ path: { country_id: country.id }, payload: { name: null, iso_code: "sc" } })
      const patched = yield* admin.countries.get({ path: { country_id: country.id } })
      assert.deepStrictEqual([patched.name, patched.iso_code], [country.name, "SC"])
      const other = yield* insertCountry()
      const taken = yield* Effect.flip(
        admin.countries.patch({ path: { country_id: country.id }, payload: { name: other.name } })
      )
      assert.strictEqual(taken._tag, "Conflict")
    })
  )

  it.effect("C6: 404 `Страна не найдена`; a country with cities → 409 E-90 and stays; without → deleted", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const missing = yield* Effect.flip(admin.countries.delete({ path: { country_id: 999_999 } }))
      assert.deepStrictEqual(missing, new NotFound({ detail: "Страна не найдена" }))
      const city = yield* insertCity()
      const refused = yield* Effect.flip(admin.countries.delete({ path: { country_id: city.countryId } }))
      assert.deepStrictEqual(
        refused,
        new IntegrityViolation({
          detail: "Нарушение целостности данных. Возможно, запись уже существует или нарушены ограничения."
        })
      )
      assert.strictEqual((yield* admin.countries.get({ path: { country_id: city.countryId } })).id, city.countryId)
      const empty = yield* insertCountry()
      assert.deepStrictEqual(yield* admin.countries.delete({ path: { country_id: empty.id } }), { status: "OK" })
      const gone = yield* Effect.flip(admin.countries.get({ path: { country_id: empty.id } }))
      assert.strictEqual(gone._tag, "NotFound")
    })
  )

  it.effect("D1: writes are admin-only (anonymous 401, user 403); reads are anonymous", () =>
    Effect.gen(function* () {
      const { anonymous, user } = yield* callers
      const country = yield* insertCountry()
      const path = { country_id: country.id }
      const payload = { name: randomName("x"), iso_code: "ZZ" }
      const attempts = (api: typeof anonymous) => [
        api.countries.create({ payload }),
        api.countries.update({ path, payload }),
        api.countries.patch({ path, payload: {} }),
        api.countries.delete({ path })
      ]
      for (const attempt of attempts(anonymous)) assert.strictEqual((yield* Effect.flip(attempt))._tag, "Unauthorized")
      for (const attempt of attempts(user)) assert.strictEqual((yield* Effect.flip(attempt))._tag, "Forbidden")
      assert.strictEqual((yield* anonymous.countries.get({ path })).id, country.id)
    })
  )
})

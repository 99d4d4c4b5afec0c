import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { randomName } from "@shum/infra/Testing"
import { Effect, Option } from "effect"
import { CitiesRepo } from "../src/Catalogue/CitiesRepo.js"
import { CountriesRepo } from "../src/Catalogue/CountriesRepo.js"
import { FacilitiesRepo } from "../src/Catalogue/FacilitiesRepo.js"
import { countRows, insertCity, insertCountry, insertFacility, insertHotel, insertRoom } from "./CatalogueFixtures.js"
import { CatalogueRepos } from "./CatalogueRepoLayer.js"

const ids = (rows: ReadonlyArray<{ readonly id: number }>) => rows.map((row) => row.id)

layer(CatalogueRepos, { excludeTestServices: true, timeout: "60 seconds" })(
  "countries, cities, facilities repos",
  (it) => {
    it.effect(
      "CountriesRepo.list: lower(name) LIKE '%' || lower($1) || '%', % and _ unescaped; ORDER BY id; pages",
      () =>
        Effect.gen(function* () {
          const repo = yield* CountriesRepo
          const tag = randomName("rc")
          const a = yield* insertCountry(`${tag} 100%`)
          const b = yield* insertCountry(`${tag} 1000`)
          const c = yield* insertCountry(`${tag} A_B`)
          const d = yield* insertCountry(`${tag} axb`)
          const page = { limit: 10, offset: 0 }
          assert.deepStrictEqual(ids(yield* repo.list({ ...page, name: `${tag} 100%` })), [a.id, b.id])
          assert.deepStrictEqual(ids(yield* repo.list({ ...page, name: `${tag} a_b` })), [c.id, d.id])
          assert.deepStrictEqual(ids(yield* repo.list({ ...page, name: tag.toUpperCase() })), [a.id, b.id, c.id, d.id])
          assert.deepStrictEqual(ids(yield* repo.list({ limit: 3, offset: 3, name: tag })), [d.id])
          assert.deepStrictEqual(yield* repo.list({ limit: 3, offset: 6, name: tag }), [])
          assert.isAtLeast((yield* repo.list({ limit: 20, offset: 0, name: "" })).length, 4)
          assert.isAtLeast((yield* repo.list({ limit: 20, offset: 0 })).length, 4)
        })
    )

    it.effect(
      "CountriesRepo: find, exists, name/ISO taken (excluding one id), insert, update, lock, hasCities, remove",
      () =>
        Effect.gen(function* () {
          const repo = yield* CountriesRepo
          const name = randomName("Страна-")
          yield* repo.insert({ name, iso_code: "RA" })
          const [created] = yield* repo.list({ limit: 1, offset: 0, name })
          const id = created!.id
          assert.deepStrictEqual({ ...created! }, { id, name, iso_code: "RA" })
          assert.isTrue(Option.isSome(yield* repo.findById(id)))
          assert.isTrue(Option.isNone(yield* repo.findById(999_999)))
          assert.isTrue(yield* repo.exists(id))
          assert.isFalse(yield* repo.exists(999_999))
          assert.isTrue(yield* repo.nameTaken(name.toUpperCase()))
          assert.isFalse(yield* repo.nameTaken(name.toUpperCase(), id))
          assert.isTrue(yield* repo.isoTaken("RA"))
          assert.isFalse(yield* repo.isoTaken("RA", id))
          yield* repo.update(id, {})
          yield* repo.update(id, { iso_code: "RB" })
          assert.deepStrictEqual({ ...Option.getOrThrow(yield* repo.findById(id)) }, { id, name, iso_code: "RB" })
          const sql = yield* SqlClient.SqlClient
          assert.isTrue(yield* repo.lock(id).pipe(sql.withTransaction, Effect.orDie))
          assert.isFalse(yield* repo.lock(999_999).pipe(sql.withTransaction, Effect.orDie))
          assert.isFalse(yield* repo.hasCities(id))
          const city = yield* insertCity(id)
          assert.isTrue(yield* repo.hasCities(id))
          yield* sql`DELETE FROM cities WHERE id = ${city.id}`.pipe(Effect.orDie)
          yield* repo.remove(id)
          assert.isFalse(yield* repo.exists(id))
        })
    )

    it.effect("CitiesRepo.list: nested country, name filter with wildcards, country_id, ORDER BY id, pages", () =>
      Effect.gen(function* () {
        const repo = yield* CitiesRepo
        const tag = randomName("ry")
        const country = yield* insertCountry()
        const a = yield* insertCity(country.id, `${tag}_Нижний`)
        const b = yield* insertCity(undefined, `${tag}-нижний-2`)
        const c = yield* insertCity(country.id, `${tag} Верхний`)
        const page = { limit: 10, offset: 0 }
        assert.deepStrictEqual(ids(yield* repo.list({ ...page, name: `${tag}_НИЖ` })), [a.id, b.id])
        assert.deepStrictEqual(ids(yield* repo.list({ ...page, name: tag, country_id: country.id })), [a.id, c.id])
        assert.deepStrictEqual(ids(yield* repo.list({ limit: 1, offset: 1, name: tag })), [b.id])
        assert.deepStrictEqual(yield* repo.list({ limit: 1, offset: 3, name: tag }), [])
        const [first] = yield* repo.list({ ...page, name: a.name })
        assert.deepStrictEqual(first?.country?.id, country.id)
        assert.deepStrictEqual(first?.country?.name, country.name)
      })
    )

    it.effect(
      "CitiesRepo: find, findRow, nameTaken (exact, per country, excluding one id), write, lock, hasHotels",
      () =>
        Effect.gen(function* () {
          const repo = yield* CitiesRepo
          const sql = yield* SqlClient.SqlClient
          const home = yield* insertCountry()
          const away = yield* insertCountry()
          const name = randomName("Город-")
          yield* repo.insert({ name, country_id: home.id })
          const [created] = yield* repo.list({ limit: 1, offset: 0, name })
          const id = created!.id
          assert.deepStrictEqual({ ...Option.getOrThrow(yield* repo.findRow(id)) }, { id, name, country_id: home.id })
          assert.strictEqual(Option.getOrThrow(yield* repo.findById(id)).country?.iso_code.length, 2)
          assert.isTrue(Option.isNone(yield* repo.findById(999_999)))
          assert.isTrue(yield* repo.nameTaken(name, home.id))
          assert.isFalse(yield* repo.nameTaken(name.toUpperCase(), home.id))
          assert.isFalse(yield* repo.nameTaken(name, away.id))
          assert.isFalse(yield* repo.nameTaken(name, home.id, id))
          yield* repo.update(id, { name, country_id: away.id })
          assert.strictEqual(Option.getOrThrow(yield* repo.findRow(id)).country_id, away.id)
          assert.isTrue(yield* repo.lock(id).pipe(sql.withTransaction, Effect.orDie))
          assert.isFalse(yield* repo.hasHotels(id))
          yield* insertHotel(id)
          assert.isTrue(yield* repo.hasHotels(id))
          const empty = yield* insertCity()
          yield* repo.remove(empty.id)
          assert.isTrue(Option.isNone(yield* repo.findRow(empty.id)))
        })
    )

    it.effect("FacilitiesRepo: list (wildcards, pages), find, insert, remove (with its room links)", () =>
      Effect.gen(function* () {
        const repo = yield* FacilitiesRepo
        const tag = randomName("rf")
        yield* repo.insert(`${tag} Wi-Fi`)
        yield* repo.insert(`${tag} WIxFI`)
        const all = yield* repo.list({ limit: 10, offset: 0, title: tag })
        assert.deepStrictEqual(
          all.map((f) => f.title),
          [`${tag} Wi-Fi`, `${tag} WIxFI`]
        )
        assert.strictEqual((yield* repo.list({ limit: 10, offset: 0, title: `${tag} wi_fi` })).length, 2)
        assert.strictEqual((yield* repo.list({ limit: 10, offset: 0, title: `${tag} wi-` })).length, 1)
        assert.deepStrictEqual(ids(yield* repo.list({ limit: 1, offset: 1, title: tag })), [all[1]!.id])
        assert.deepStrictEqual(yield* repo.list({ limit: 1, offset: 2, title: tag }), [])
        assert.strictEqual(Option.getOrThrow(yield* repo.findById(all[0]!.id)).title, `${tag} Wi-Fi`)
        const facility = yield* insertFacility()
        const room = yield* insertRoom((yield* insertHotel()).id, { facilityIds: [facility.id] })
        assert.isTrue(yield* repo.remove(facility.id))
        assert.isFalse(yield* repo.remove(facility.id))
        assert.strictEqual(yield* countRows("rooms_facilities", "room_id", room.id), 0)
      })
    )
  }
)

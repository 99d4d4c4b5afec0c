/**
 * The catalogue read cache (docs/decisions.md D7, `Catalogue/CatalogueCache.ts`) on the real PostgreSQL: two
 * replicas with a cache each and a third without one, all on one database. A cached answer is never older
 * than the last write committed before the request, whoever wrote it (either replica, plain SQL); it is byte
 * for byte the uncached server's answer, errors and `304` included; a rollback changes nothing; concurrent
 * writes and reads (a property test) never show a stale or rolled-back value.
 */
import { assert, describe, it } from "@effect/vitest"
import { freshDatabase } from "@shum/infra/Testing"
import { databaseUrl } from "@shum/infra/Testing"
import { Context, Deferred, Effect, Fiber, FiberId, Layer } from "effect"
import fc from "fast-check"
import pg from "pg"
import {
  AnswerStore,
  CatalogueCache,
  entryBytes,
  MAX_TARGETS_PER_ANSWER,
  keyOf,
  sharedReads,
  targetBytes
} from "../src/Catalogue/CatalogueCache.js"
import {
  callers,
  insertCity,
  insertFacility,
  insertHotel,
  insertRoom,
  raw,
  type RawResponse
} from "./CatalogueFixtures.js"
import { makeTestServer } from "./support.js"

type Server = Context.Context<Layer.Layer.Success<ReturnType<typeof makeTestServer>>>

/** Two replicas with the cache (`a`, `b`) and one without (`plain`), on one database. */
const replicas = (env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const database = yield* freshDatabase
    const a = yield* Layer.build(makeTestServer(env, { database }))
    const b = yield* Layer.build(makeTestServer(env, { database }))
    const plain = yield* Layer.build(makeTestServer({ CATALOGUE_CACHE_ENABLED: "false" }, { database }))
    const pool = new pg.Pool({ connectionString: databaseUrl(database.name), max: 2 })
    yield* Effect.addFinalizer(() => Effect.promise(() => pool.end()))
    return { a, b, plain, pool }
  })

const on =
  (server: Server) =>
  <A, E>(effect: Effect.Effect<A, E, Layer.Layer.Success<ReturnType<typeof makeTestServer>>>) =>
    Effect.provide(effect, server)

const get = (server: Server, url: string, headers: Record<string, string> = {}) =>
  on(server)(raw("GET", url, { headers }))

const stats = (server: Server) => Context.get(server, CatalogueCache).stats()

const sqlOn = (pool: pg.Pool, text: string) => Effect.promise(() => pool.query(text))

/** What a client can tell of an answer: status, body, and the headers that describe the body. */
const visible = (response: RawResponse) => ({
  status: response.status,
  text: response.text,
  contentType: response.headers["content-type"],
  contentLength: response.headers["content-length"],
  etag: response.headers["etag"],
  cacheControl: response.headers["cache-control"]
})

describe("catalogue read cache (D7)", () => {
  it.scopedLive("write then read, on the same replica and the other, by HTTP or plain SQL: never stale", () =>
    Effect.gen(function* () {
      const { a, b, pool } = yield* replicas()
      const city = yield* on(a)(insertCity())
      const hotel = yield* on(a)(insertHotel(city.id))
      const facility = yield* on(a)(insertFacility())
      const room = yield* on(a)(insertRoom(hotel.id, { price: 1000, facilityIds: [facility.id] }))
      const admin = (yield* on(a)(callers)).admin
      const adminB = (yield* on(b)(callers)).admin
      const urls = [
        `/hotels?city_id=${city.id}`,
        `/hotels/${hotel.id}`,
        `/hotels/${hotel.id}/rooms`,
        `/hotels/${hotel.id}/rooms/${room.id}`
      ]
      const readAll = (server: Server) => Effect.forEach(urls, (url) => get(server, url))
      // fill both caches, and see the second round hit
      yield* readAll(a)
      yield* readAll(b)
      const before = stats(a).hits
      const again = yield* readAll(a)
      assert.strictEqual(stats(a).hits, before + urls.length)
      assert.deepStrictEqual(
        again.map((r) => r.status),
        [200, 200, 200, 200]
      )

      // a write through replica a: both replicas answer the new title at once
      yield* on(a)(admin.hotels.patch({ path: { hotel_id: hotel.id }, payload: { title: `${hotel.title}-2` } }))
      for (const server of [a, b]) {
        const [list, one] = yield* readAll(server)
        assert.strictEqual((list!.json as Array<{ title: string }>)[0]!.title, `${hotel.title}-2`)
        assert.strictEqual((one!.json as { title: string }).title, `${hotel.title}-2`)
      }

      // a write through replica b (the room replaced, its facility links removed): a sees it
      yield* on(b)(
        adminB.rooms.update({
          path: { hotel_id: hotel.id, room_id: room.id },
          payload: { title: room.title, price: 1234, quantity: 2, facility_ids: [] }
        })
      )
      const [, , rooms, oneRoom] = yield* readAll(a)
      assert.deepStrictEqual(
        (rooms!.json as Array<{ price: number; facilities: unknown[] }>).map((r) => [r.price, r.facilities.length]),
        [[1234, 0]]
      )
      assert.strictEqual((oneRoom!.json as { price: number }).price, 1234)

      // plain SQL, no server involved: a city rename shows in both replicas' hotel answers
      yield* sqlOn(pool, `UPDATE cities SET name = 'Переименован' WHERE id = ${city.id}`)
      for (const server of [a, b]) {
        const [list, one] = yield* readAll(server)
        assert.strictEqual((list!.json as Array<{ city: string }>)[0]!.city, "Переименован")
        assert.strictEqual((one!.json as { city: string }).city, "Переименован")
      }

      // a facility renamed: the room lists show it (after the link is back)
      yield* sqlOn(pool, `INSERT INTO rooms_facilities (room_id, facility_id) VALUES (${room.id}, ${facility.id})`)
      yield* sqlOn(pool, `UPDATE facilities SET title = 'Сауна' WHERE id = ${facility.id}`)
      const roomsB = yield* get(b, `/hotels/${hotel.id}/rooms`)
      assert.deepStrictEqual((roomsB.json as Array<{ facilities: unknown }>)[0]!.facilities, [
        { id: facility.id, title: "Сауна" }
      ])

      // deleted through a: 404 with the original's text on both, never the kept hotel
      yield* on(a)(admin.hotels.delete({ path: { hotel_id: hotel.id } }))
      for (const server of [a, b]) {
        const gone = yield* get(server, `/hotels/${hotel.id}`)
        assert.strictEqual(gone.status, 404)
        assert.strictEqual((gone.json as { detail: string }).detail, "Отель не найден")
        assert.deepStrictEqual((yield* get(server, `/hotels?city_id=${city.id}`)).json, [])
        assert.strictEqual((yield* get(server, `/hotels/${hotel.id}/rooms`)).status, 404)
      }
    })
  )

  it.scopedLive("answers are byte-identical to the uncached server's: misses, hits, errors, 304", () =>
    Effect.gen(function* () {
      const { a, plain } = yield* replicas()
      const city = yield* on(a)(insertCity())
      const hotel = yield* on(a)(insertHotel(city.id))
      const other = yield* on(a)(insertHotel(city.id))
      const facility = yield* on(a)(insertFacility())
      const room = yield* on(a)(insertRoom(hotel.id, { facilityIds: [facility.id] }))
      yield* on(a)(insertRoom(hotel.id, { title: "Люкс «Волна»" }))
      const urls = [
        "/hotels",
        `/hotels?city_id=${city.id}&per_page=1&page=2`,
        `/hotels?per_page=1&city_id=${city.id}&page=2`, // another spelling of the same request
        `/hotels?title=${encodeURIComponent(hotel.title.slice(0, 8))}&sort_by=city&order=desc`,
        `/hotels?city=${encodeURIComponent(city.name)}&unknown=1`,
        `/hotels/${hotel.id}`,
        `/hotels/${hotel.id}/rooms`,
        `/hotels/${hotel.id}/rooms?title=${encodeURIComponent("волна")}&per_page=1`,
        `/hotels/${other.id}/rooms`,
        `/hotels/${hotel.id}/rooms/${room.id}`,
        // errors: the original's Russian texts, never kept
        "/hotels/999999",
        "/hotels/999999/rooms",
        `/hotels/${hotel.id}/rooms/999999`,
        `/hotels/${other.id}/rooms/${room.id}`,
        "/hotels?per_page=101",
        "/hotels/abc",
        `/hotels?date_from=2030-01-01`
      ]
      for (const url of urls) {
        const expected = visible(yield* get(plain, url))
        const miss = visible(yield* get(a, url))
        const hit = visible(yield* get(a, url))
        assert.deepStrictEqual(miss, expected, url)
        assert.deepStrictEqual(hit, expected, url)
        if (expected.status === 200) {
          // a hit's 304: empty, with the same tag as the uncached server's
          const notModified = yield* get(a, url, { "if-none-match": expected.etag! })
          const plainNotModified = yield* get(plain, url, { "if-none-match": expected.etag! })
          assert.strictEqual(notModified.status, 304, url)
          assert.strictEqual(notModified.text, "", url)
          assert.deepStrictEqual(visible(notModified), visible(plainNotModified), url)
          assert.strictEqual(notModified.headers["warning"], plainNotModified.headers["warning"], url)
        }
      }
      // the error answers were never kept: only the 200s are (two spellings share one entry)
      assert.strictEqual(stats(a).entries, 9)
      assert.strictEqual(stats(plain).versionReads, 0, "no cache: no version reads")
    })
  )

  it.scopedLive("a rolled-back write changes nothing; a committed one in the same tables does", () =>
    Effect.gen(function* () {
      const { a, pool } = yield* replicas()
      const hotel = yield* on(a)(insertHotel())
      const url = `/hotels/${hotel.id}`
      const first = yield* get(a, url)
      yield* Effect.promise(async () => {
        const client = await pool.connect()
        try {
          await client.query("BEGIN")
          await client.query(`UPDATE hotels SET address = 'откат' WHERE id = ${hotel.id}`)
          await client.query("ROLLBACK")
          // a savepoint rolled back inside a committed transaction that wrote nothing else
          await client.query("BEGIN")
          await client.query("SAVEPOINT s")
          await client.query(`UPDATE hotels SET address = 'откат' WHERE id = ${hotel.id}`)
          await client.query("ROLLBACK TO s")
          await client.query("COMMIT")
        } finally {
          client.release()
        }
      })
      const hits = stats(a).hits
      const after = yield* get(a, url)
      assert.strictEqual(stats(a).hits, hits + 1, "still the kept answer")
      assert.strictEqual(after.text, first.text)
      yield* sqlOn(pool, `UPDATE hotels SET address = 'новый' WHERE id = ${hotel.id}`)
      const fresh = yield* get(a, url)
      assert.strictEqual((fresh.json as { address: string }).address, "новый")
      assert.strictEqual(stats(a).hits, hits + 1, "a miss")
    })
  )

  // How many version reads 64 concurrent requests share depends on when each reaches the cache (under a loaded
  // machine they may arrive one by one): the sharing rule itself is proven deterministically by "shared reads"
  // below; here, at most one read per request, and every answer exact.
  it.scopedLive("concurrent requests: at most a version read each; every one still sees the writes before it", () =>
    Effect.gen(function* () {
      const { a, pool } = yield* replicas()
      const hotel = yield* on(a)(insertHotel())
      const url = `/hotels/${hotel.id}`
      yield* get(a, url)
      const reads = stats(a).versionReads
      const answers = yield* Effect.forEach(Array.from({ length: 64 }), () => get(a, url), { concurrency: 64 })
      assert.isTrue(answers.every((r) => r.status === 200))
      const used = stats(a).versionReads - reads
      assert.isAtLeast(used, 1)
      assert.isAtMost(used, 64, `${used} version reads for 64 requests`)
      // a write acknowledged before the requests are sent is seen by all of them
      yield* sqlOn(pool, `UPDATE hotels SET address = 'после' WHERE id = ${hotel.id}`)
      const after = yield* Effect.forEach(Array.from({ length: 32 }), () => get(a, url), { concurrency: 32 })
      assert.isTrue(after.every((r) => (r.json as { address: string }).address === "после"))
    })
  )

  it.scopedLive(
    "property: concurrent writes (some rolled back) and reads never show a stale or rolled-back value",
    () =>
      Effect.gen(function* () {
        const { a, b, plain, pool } = yield* replicas()
        const city = yield* on(a)(insertCity())
        const hotel = yield* on(a)(insertHotel(city.id))
        const facility = yield* on(a)(insertFacility())
        const room = yield* on(a)(insertRoom(hotel.id, { facilityIds: [facility.id] }))
        yield* on(a)(insertHotel(city.id))
        // every table's marker starts at 0; a write n sets the markers of its tables to n
        const TABLES = ["hotels", "rooms", "facilities", "cities"] as const
        type Table = (typeof TABLES)[number]
        const setMarker: Record<Table, (n: number) => string> = {
          hotels: (n) => `UPDATE hotels SET address = 'a-${n}' WHERE city_id = ${city.id}`,
          rooms: (n) => `UPDATE rooms SET price = ${n} WHERE hotel_id = ${hotel.id}`,
          facilities: (n) => `UPDATE facilities SET title = 'f-${n}' WHERE id = ${facility.id}`,
          cities: (n) => `UPDATE cities SET name = 'c-${n}' WHERE id = ${city.id}`
        }
        yield* sqlOn(pool, `BEGIN; ${TABLES.map((t) => setMarker[t](0)).join("; ")}; COMMIT`)
        const committed: Record<Table, number> = { hotels: 0, rooms: 0, facilities: 0, cities: 0 }
        const issued: Record<Table, number> = { ...committed }
        const rolledBack = new Set<number>()
        let n = 0

        const urls = [
          `/hotels?city_id=${city.id}`,
          `/hotels/${hotel.id}`,
          `/hotels/${hotel.id}/rooms`,
          `/hotels/${hotel.id}/rooms/${room.id}`
        ]
        /** The markers an answer shows, per table. */
        const markers = (body: unknown): Array<[Table, number]> => {
          const found: Array<[Table, number]> = []
          const visit = (value: unknown, key?: string) => {
            if (Array.isArray(value)) return value.forEach((item) => visit(item))
            if (typeof value === "object" && value !== null) {
              return Object.entries(value).forEach(([k, v]) => visit(v, k))
            }
            if (key === "price") found.push(["rooms", value as number])
            const match = typeof value === "string" ? /^([afc])-(\d+)$/.exec(value) : null
            if (match !== null) {
              const table: Table = match[1] === "a" ? "hotels" : match[1] === "f" ? "facilities" : "cities"
              found.push([table, Number(match[2])])
            }
          }
          visit(body)
          return found
        }

        const write = fc.record({
          tables: fc.subarray([...TABLES], { minLength: 1 }),
          rollback: fc.boolean()
        })

        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.array(write, { minLength: 5, maxLength: 25 }), async (writes) => {
              let writing = true
              const problems: Array<string> = []
              const writer = (async () => {
                const client = await pool.connect()
                try {
                  for (const { rollback, tables } of writes) {
                    const m = ++n
                    if (rollback) rolledBack.add(m)
                    else for (const t of tables) issued[t] = m
                    await client.query("BEGIN")
                    for (const t of tables) await client.query(setMarker[t](m))
                    await client.query(rollback ? "ROLLBACK" : "COMMIT")
                    if (!rollback) for (const t of tables) committed[t] = m
                  }
                } finally {
                  client.release()
                  writing = false
                }
              })()
              const reader = async (i: number) => {
                let k = i
                do {
                  const url = urls[k % urls.length]!
                  const server = k % 2 === 0 ? a : b
                  k++
                  const floor = { ...committed }
                  const response = await Effect.runPromise(get(server, url))
                  const ceiling = { ...issued }
                  if (response.status !== 200) {
                    problems.push(`${url}: ${response.status}`)
                    continue
                  }
                  for (const [table, m] of markers(response.json)) {
                    if (rolledBack.has(m)) problems.push(`${url}: rolled-back write ${m} of ${table} seen`)
                    if (m < floor[table]) problems.push(`${url}: ${table} ${m} older than committed ${floor[table]}`)
                    if (m > ceiling[table]) problems.push(`${url}: ${table} ${m} never written`)
                  }
                } while (writing)
              }
              await Promise.all([writer, ...Array.from({ length: 6 }, (_, i) => reader(i))])
              assert.deepStrictEqual(problems, [])
              // at rest, every answer of both caches is the uncached server's, byte for byte
              for (const url of urls) {
                const expected = visible(await Effect.runPromise(get(plain, url)))
                for (const server of [a, b]) {
                  assert.deepStrictEqual(visible(await Effect.runPromise(get(server, url))), expected, url)
                }
              }
            }),
            { numRuns: 8 }
          )
        )
        assert.isAbove(stats(a).hits + stats(b).hits, 0, "the cache was used")
      }),
    // three servers, 8 runs of a writer and 6 readers: 11 s alone, over 30 s in the full suite under load 16–20
    120_000
  )

  it.scopedLive("an answer evicted is not answered early: its raw target went with it (one budget)", () =>
    Effect.gen(function* () {
      const database = yield* freshDatabase
      const server = yield* Layer.build(makeTestServer({ CATALOGUE_CACHE_MAX_ENTRIES: "1" }, { database }))
      const [first, second] = [yield* on(server)(insertCity()), yield* on(server)(insertCity())]
      yield* on(server)(insertHotel(first!.id))
      yield* on(server)(insertHotel(second!.id))
      const [a, b] = [`/hotels?city_id=${first!.id}`, `/hotels?city_id=${second!.id}`]
      const answerA = yield* get(server, a) // a miss, kept with its target
      assert.strictEqual(answerA.status, 200)
      yield* get(server, a)
      assert.strictEqual(stats(server).early, 1, "the second request of the target was early")
      yield* get(server, b) // b's answer takes the one entry: a's goes, with its target
      assert.deepStrictEqual([stats(server).entries, stats(server).targets], [1, 1])
      const misses = stats(server).misses
      const again = yield* get(server, a)
      assert.strictEqual(stats(server).early, 1, "not answered early")
      assert.strictEqual(stats(server).misses, misses + 1, "answered by the endpoint")
      assert.deepStrictEqual(visible(again), visible(answerA))
    })
  )

  it.scopedLive("disabled (CATALOGUE_CACHE_ENABLED=false): no version reads, nothing kept", () =>
    Effect.gen(function* () {
      const { plain } = yield* replicas()
      const hotel = yield* on(plain)(insertHotel())
      yield* get(plain, `/hotels/${hotel.id}`)
      yield* get(plain, `/hotels/${hotel.id}`)
      assert.deepStrictEqual(stats(plain), {
        entries: 0,
        bytes: 0,
        targets: 0,
        hits: 0,
        misses: 0,
        versionReads: 0,
        early: 0
      })
    })
  )
})

describe("the cache's bounds and keys", () => {
  const body = (size: number) => new Uint8Array(size)

  it("least recently used first, beyond the entries' limit", () => {
    const store = new AnswerStore(3, 1_000_000)
    for (const key of ["a", "b", "c"]) store.set(key, 1, body(10), "application/json")
    assert.isDefined(store.get("a", 1)) // a is now the most recent
    store.set("d", 1, body(10), "application/json")
    assert.isUndefined(store.get("b", 1))
    assert.isDefined(store.get("a", 1))
    assert.strictEqual(store.size.entries, 3)
  })

  it("beyond the bytes' limit; an answer larger than the limit is not kept; another version is no hit", () => {
    const store = new AnswerStore(100, 1000)
    store.set("a", 1, body(450), "application/json")
    store.set("b", 1, body(450), "application/json")
    assert.isUndefined(store.get("a", 1), "evicted: 2 × (450 + key + overhead) > 1000")
    assert.isDefined(store.get("b", 1))
    assert.isAtMost(store.size.bytes, 1000)
    store.set("huge", 1, body(2000), "application/json")
    assert.isUndefined(store.get("huge", 1))
    assert.isUndefined(store.get("b", 2))
    store.set("b", 2, body(10), "application/json")
    assert.strictEqual(store.size.entries, 1)
    store.clear()
    assert.deepStrictEqual(store.size, { entries: 0, bytes: 0, targets: 0 })
  })

  it("raw targets: their answer's body counted once, in the same budget; evicting an answer drops its targets", () => {
    const store = new AnswerStore(100, 1000)
    const a = store.set("a", 1, body(300), "application/json")!
    store.alias("/a?x=1", a)
    store.alias("/a?x=2", a)
    store.alias("/a?x=1", a) // already kept: nothing added
    assert.deepStrictEqual(store.size, {
      entries: 1,
      targets: 2,
      bytes: entryBytes("a", body(300)) + targetBytes("/a?x=1") + targetBytes("/a?x=2")
    })
    assert.strictEqual(store.target("/a?x=2"), a)
    assert.isTrue(store.touch(a, 1))
    assert.isFalse(store.touch(a, 2), "another version is no hit")
    // b pushes a out of the budget: a's targets go with it, and the entry held from before is no hit
    const b = store.set("b", 1, body(500), "application/json")!
    assert.isFalse(store.has("a"))
    assert.isUndefined(store.target("/a?x=1"))
    assert.isUndefined(store.target("/a?x=2"))
    assert.isFalse(store.touch(a, 1))
    assert.deepStrictEqual(store.size, { entries: 1, targets: 0, bytes: entryBytes("b", body(500)) })
    // an evicted or replaced entry takes no target
    store.alias("/a?x=1", a)
    assert.isUndefined(store.target("/a?x=1"))
    store.alias("/b", b)
    const b2 = store.set("b", 1, body(10), "application/json")!
    assert.isUndefined(store.target("/b"), "replaced: its targets went with the old entry")
    store.alias("/b", b)
    assert.isUndefined(store.target("/b"))
    store.alias("/b", b2)
    assert.strictEqual(store.target("/b"), b2)
    store.clear()
    assert.deepStrictEqual(store.size, { entries: 0, targets: 0, bytes: 0 })
  })

  it("N spellings of one answer never evict another answer and never exceed the per-answer cap", () => {
    const store = new AnswerStore(100, 10_000_000)
    const kept = Array.from({ length: 51 }, (_, i) => store.set(`k${i}`, 1, body(10), "application/json")!)
    const a = kept[0]!
    for (let i = 0; i < 150; i++) store.alias(`/a?x=%${i}`, a)
    assert.strictEqual(store.size.entries, 51)
    assert.strictEqual(store.size.targets, MAX_TARGETS_PER_ANSWER)
    for (const e of kept) assert.isTrue(store.has(e.key))
    assert.isUndefined(store.target(`/a?x=%${MAX_TARGETS_PER_ANSWER}`), "beyond the cap: not aliased")
    // a target whose bytes would exceed the byte bound is not kept either, and evicts nothing
    const tight = new AnswerStore(100, entryBytes("t", body(10)) + 1)
    const t = tight.set("t", 1, body(10), "application/json")!
    tight.alias("/t", t)
    assert.isTrue(tight.has("t"))
    assert.isUndefined(tight.target("/t"))
  })

  it("a churn of many keys and targets: the bytes never exceed the one budget; no target outlives its answer", () => {
    // target `t<i>/<j>` is a spelling of key `k<i>` (as a raw target decodes to one endpoint and parameters)
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("set" as const),
        key: fc.nat(15),
        size: fc.nat(700),
        version: fc.constantFrom(1, 1, 1, 0)
      }),
      fc.record({ kind: fc.constant("hit" as const), key: fc.nat(15), spelling: fc.nat(5) }),
      fc.record({ kind: fc.constant("early" as const), key: fc.nat(15), spelling: fc.nat(5), version: fc.nat(1) }),
      fc.record({ kind: fc.constant("delete" as const), key: fc.nat(15) })
    )
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 50, maxLength: 300, size: "max" }),
        fc.integer({ min: 1, max: 8 }),
        (ops, maxEntries) => {
          const maxBytes = 4000
          const store = new AnswerStore(maxEntries, maxBytes)
          const sizes = new Map<string, number>()
          const targetsOf = new Map<string, Set<string>>()
          const held: Array<NonNullable<ReturnType<AnswerStore["target"]>>> = []
          for (const o of ops) {
            const key = `k${o.key}`
            if (o.kind === "set") {
              const entry = store.set(key, o.version, body(o.size), "application/json")
              sizes.set(key, o.size)
              targetsOf.set(key, new Set())
              if (entry !== undefined) held.push(entry)
            } else if (o.kind === "hit") {
              const entry = store.get(key, 1)
              const target = `t${o.key}/${o.spelling}`
              if (entry !== undefined) {
                store.alias(target, entry)
                if (store.target(target) === entry) targetsOf.get(key)!.add(target)
              }
            } else if (o.kind === "early") {
              const entry = store.target(`t${o.key}/${o.spelling}`)
              if (entry !== undefined && store.touch(entry, o.version)) {
                assert.isTrue(store.has(key), "served early: its answer is kept")
                assert.strictEqual(entry.key, key)
                assert.strictEqual(store.get(key, o.version), entry, "the kept answer itself")
              }
            } else {
              store.delete(key)
            }
            // the bounds hold after every step, and the bytes are exactly each kept body once plus its targets
            const size = store.size
            assert.isAtMost(size.bytes, maxBytes)
            assert.isAtMost(size.entries, maxEntries)
            assert.isAtMost(size.targets, size.entries * MAX_TARGETS_PER_ANSWER)
            let expected = 0
            let targets = 0
            for (const [k, bytes] of sizes) {
              if (!store.has(k)) continue
              expected += entryBytes(k, body(bytes))
              for (const target of targetsOf.get(k)!) {
                if (store.target(target)?.key === k) {
                  expected += targetBytes(target)
                  targets++
                }
              }
            }
            assert.strictEqual(size.bytes, expected)
            assert.strictEqual(size.targets, targets)
            // no target of an answer no longer kept (evicted, deleted or replaced) resolves, or is a hit
            for (let i = 0; i < 16; i++) {
              for (let j = 0; j <= 5; j++) {
                const entry = store.target(`t${i}/${j}`)
                if (entry !== undefined) assert.isTrue(store.has(entry.key) && entry.key === `k${i}`)
              }
            }
            for (const entry of held) {
              if (!store.has(entry.key)) {
                assert.isFalse(store.touch(entry, 0))
                assert.isFalse(store.touch(entry, 1))
              }
            }
          }
        }
      ),
      { numRuns: 100 }
    )
  })

  it("keys: the endpoint and the decoded parameters, whatever their order; undefined is absent", () => {
    assert.strictEqual(
      keyOf("hotels.list", { page: 2, per_page: 1, title: undefined }),
      keyOf("hotels.list", { per_page: 1, page: 2 })
    )
    assert.notStrictEqual(keyOf("hotels.list", { title: "1" }), keyOf("hotels.list", { title: 1 }))
    assert.notStrictEqual(keyOf("hotels.get", { hotel_id: 1 }), keyOf("rooms.list", { hotel_id: 1 }))
  })

  it.effect(
    "shared reads: a call is answered by a read that started after it; one read answers all calls before it",
    () =>
      Effect.gen(function* () {
        // each run of the read waits for its gate, then answers its own number
        const gates: Array<Deferred.Deferred<void>> = []
        const read = Effect.suspend(() => {
          const gate = Deferred.unsafeMake<void>(FiberId.none)
          gates.push(gate)
          const run = gates.length
          return Effect.as(Deferred.await(gate), run)
        })
        const shared = yield* sharedReads(read)
        const open = (run: number) => Deferred.succeed(gates[run - 1]!, undefined)
        const settle = Effect.yieldNow().pipe(Effect.repeatN(20))

        const c1 = yield* Effect.fork(shared)
        yield* settle
        assert.strictEqual(gates.length, 1, "the first call starts a read")
        // calls while read 1 runs: they must not take its answer, and they share one later read
        const c2 = yield* Effect.fork(shared)
        const c3 = yield* Effect.fork(shared)
        yield* settle
        assert.strictEqual(gates.length, 1, "one read at a time")
        yield* open(1)
        assert.strictEqual(yield* Fiber.join(c1), 1)
        yield* settle
        assert.strictEqual(gates.length, 2, "the waiting calls' read starts when the first ends")
        const c4 = yield* Effect.fork(shared) // arrived while read 2 runs: read 3
        yield* settle
        yield* open(2)
        assert.deepStrictEqual([yield* Fiber.join(c2), yield* Fiber.join(c3)], [2, 2])
        yield* settle
        yield* open(3)
        assert.strictEqual(yield* Fiber.join(c4), 3)
        yield* settle
        assert.strictEqual(gates.length, 3, "no read without a caller")
      })
  )
})

/**
 * The sweep of expired holds (docs/data.md BR-13) on the real PostgreSQL: it expires exactly the holds past
 * `expires_at`, gives their nights back (`room_nights.held`), in batches, each hold once however many sweepers
 * run at once, and leaves alone a hold another transaction has locked (a confirm deciding it).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, layer } from "@effect/vitest"
import * as Database from "@shum/infra/Database"
import { freshDatabase, randomName } from "@shum/infra/Testing"
import { Effect, Layer, Logger, LogLevel, Ref } from "effect"
import { HoldSweepLive, sweepExpiredHolds } from "../src/HoldSweep.js"

const TestLayer = Layer.unwrapScoped(
  Effect.map(freshDatabase, (connection) => Database.layer(connection, { poolSize: 6 }))
).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Error)))

/** A room type of this quantity (in a hotel of its own) and a user. */
const roomAndUser = (quantity: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [country] = yield* sql<{ id: number }>`
      INSERT INTO countries (name, iso_code) VALUES (${randomName("c")}, ${randomName("").slice(0, 2)}) RETURNING id`
    const [city] = yield* sql<{ id: number }>`
      INSERT INTO cities (name, country_id) VALUES (${randomName("c")}, ${country!.id}) RETURNING id`
    const [hotel] = yield* sql<{ id: number }>`
      INSERT INTO hotels (title, city_id, address) VALUES (${randomName("h")}, ${city!.id}, 'a') RETURNING id`
    const [room] = yield* sql<{ id: number }>`
      INSERT INTO rooms (hotel_id, title, price, quantity) VALUES (${hotel!.id}, 'r', 100, ${quantity}) RETURNING id`
    const [user] = yield* sql<{ id: number }>`
      INSERT INTO users (email) VALUES (${`${randomName("u")}@example.com`}) RETURNING id`
    return { roomId: room!.id, userId: user!.id }
  }).pipe(Effect.orDie)

/** An active hold of nights `from` … `to − 1` (days after today) that expires `seconds` from now. */
const hold = (at: { roomId: number; userId: number }, from: number, to: number, seconds: number) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ id: number }>`
      INSERT INTO holds (user_id, room_id, date_from, date_to, price, expires_at)
      VALUES (${at.userId}, ${at.roomId}, CURRENT_DATE + ${from}::int, CURRENT_DATE + ${to}::int, 100,
              now() + make_interval(secs => ${seconds}))
      RETURNING id`
  ).pipe(
    Effect.map((rows) => rows[0]!.id),
    Effect.orDie
  )

const heldOf = (roomId: number) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ held: number }>`SELECT held FROM room_nights WHERE room_id = ${roomId} ORDER BY night`
  ).pipe(
    Effect.map((rows) => rows.map((r) => r.held)),
    Effect.orDie
  )

const statuses = (ids: ReadonlyArray<number>) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ status: string }>`SELECT status FROM holds WHERE id IN ${sql.in(ids)} ORDER BY id`
  ).pipe(
    Effect.map((rows) => rows.map((r) => r.status)),
    Effect.orDie
  )

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("the holds' sweep (BR-13)", (it) => {
  it.effect("expires exactly the holds past expires_at, in batches, and gives their nights back", () =>
    Effect.gen(function* () {
      const at = yield* roomAndUser(10)
      const due = yield* Effect.all([0, 1, 2, 3, 4].map((i) => hold(at, 1 + i, 3 + i, -1)))
      const live = yield* hold(at, 1, 8, 600)
      assert.deepStrictEqual(yield* heldOf(at.roomId), [2, 3, 3, 3, 3, 2, 1])
      const counted = yield* Ref.make<Array<number>>([])
      const expired = yield* sweepExpiredHolds(2, (n) => Ref.update(counted, (all) => [...all, n]))
      assert.strictEqual(expired, 5)
      assert.deepStrictEqual(yield* Ref.get(counted), [2, 2, 1])
      assert.deepStrictEqual(yield* statuses(due), ["expired", "expired", "expired", "expired", "expired"])
      assert.deepStrictEqual(yield* statuses([live]), ["active"])
      assert.deepStrictEqual(yield* heldOf(at.roomId), [1, 1, 1, 1, 1, 1, 1])
      assert.strictEqual(yield* sweepExpiredHolds(2), 0)
    })
  )

  it.effect("sweepers at once expire each hold once; a hold locked by another transaction is skipped", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const at = yield* roomAndUser(50)
      const due = yield* Effect.all(Array.from({ length: 40 }, (_, i) => hold(at, 1 + (i % 7), 3 + (i % 7), -1)))
      const totals = yield* Effect.all(
        Array.from({ length: 4 }, () => sweepExpiredHolds(3)),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(
        totals.reduce((a, b) => a + b, 0),
        40
      )
      assert.isTrue((yield* statuses(due)).every((s) => s === "expired"))
      assert.isTrue((yield* heldOf(at.roomId)).every((n) => n === 0))
      // a confirm holding the row: the sweep leaves it to the confirm
      const locked = yield* hold(at, 1, 2, -1)
      const holding = yield* Effect.fork(
        sql.withTransaction(
          Effect.zipRight(sql`SELECT 1 FROM holds WHERE id = ${locked} FOR UPDATE`, Effect.sleep("700 millis"))
        )
      )
      yield* Effect.sleep("200 millis")
      // on another connection: the sweep does not wait for that transaction, and does not take the hold
      assert.strictEqual(yield* sweepExpiredHolds(10), 0)
      yield* holding.await
      assert.strictEqual(yield* sweepExpiredHolds(10), 1)
    })
  )

  it.scoped("HoldSweepLive sweeps on its own, counting what it expired", () =>
    Effect.gen(function* () {
      const at = yield* roomAndUser(5)
      const soon = yield* hold(at, 2, 4, 0.3)
      const counted = yield* Ref.make(0)
      yield* Layer.build(
        HoldSweepLive({ every: "50 millis", batch: 100, onExpired: (n) => Ref.update(counted, (c) => c + n) })
      )
      assert.deepStrictEqual(yield* statuses([soon]), ["active"])
      yield* Effect.sleep("1 second")
      assert.deepStrictEqual(yield* statuses([soon]), ["expired"])
      assert.strictEqual(yield* Ref.get(counted), 1)
      assert.deepStrictEqual(yield* heldOf(at.roomId), [0, 0])
    })
  )
})

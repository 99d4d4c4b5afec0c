/**
 * The one booking write path on PostgreSQL (migration 0007, docs/data.md BR-5, BR-7): `take_nights`, the
 * inventory's one capacity check, and how the bookings repository reads the database's refusals — a night
 * filled by a concurrent writer after the check looked is a sold-out answer, a deadlock an aborted write that
 * may be run again. A second connection (`pg`) plays the concurrent writer.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { databaseUrl } from "@shum/infra/Testing"
import { Effect, Fiber } from "effect"
import pg from "pg"
import { BookingsRepo } from "../src/Bookings/BookingsRepo.js"
import { assertInventoryClean, day, insertRoom, newUser } from "./BookingsFixtures.js"
import { TestDatabaseName, TestServer } from "./support.js"

/** A connection of its own, closed with the test's scope. */
const otherConnection = Effect.acquireRelease(
  Effect.flatMap(TestDatabaseName, (name) =>
    Effect.promise(async () => {
      const client = new pg.Client({ connectionString: databaseUrl(name) })
      await client.connect()
      return client
    })
  ),
  (client) => Effect.promise(() => client.end())
)

const query = (client: pg.Client, text: string, values: ReadonlyArray<unknown> = []) =>
  Effect.promise(() => client.query(text, [...values]))

const takeNights = (room: number, from: number, to: number, units: number, keep?: readonly [number, number]) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<{ full: ReadonlyArray<string> | null }>`
      SELECT take_nights(${room}, ${day(from)}::date, ${day(to)}::date, ${units},
                         ${keep ? day(keep[0]) : null}::date, ${keep ? day(keep[1]) : null}::date)::text[] AS full`
  ).pipe(Effect.map((rows) => rows[0]!.full))

const book = (roomId: number, userId: number, from: number, to: number) =>
  Effect.flatMap(BookingsRepo, (repo) =>
    repo.book({ roomId, userId, from: day(from), to: day(to), today: day(0) })
  ).pipe(Effect.provide(BookingsRepo.Default))

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("the booking write path (D2)", (it) => {
  it.effect("take_nights names the nights without the units asked, keeps a moved stay's own nights out", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const room = yield* insertRoom({ quantity: 2 })
      const user = yield* newUser()
      yield* sql`INSERT INTO bookings (room_id, user_id, date_from, date_to, price) VALUES
        (${room.id}, ${user.id}, ${day(11)}, ${day(13)}, 0), (${room.id}, ${user.id}, ${day(11)}, ${day(13)}, 0),
        (${room.id}, ${user.id}, ${day(13)}, ${day(14)}, 0)`
      assert.deepStrictEqual(yield* takeNights(room.id, 10, 15, 1), [day(11), day(12)])
      assert.deepStrictEqual(yield* takeNights(room.id, 10, 15, 2), [day(11), day(12), day(13)])
      assert.deepStrictEqual(yield* takeNights(room.id, 13, 15, 1), [])
      // the stay [11, 13) moved to [10, 15): its own nights are not judged, the others are
      assert.deepStrictEqual(yield* takeNights(room.id, 10, 15, 1, [11, 13]), [])
      assert.deepStrictEqual(yield* takeNights(room.id, 10, 15, 2, [11, 13]), [day(13)])
      // more units than the room has: every night is full, with or without a row
      assert.deepStrictEqual(yield* takeNights(room.id, 10, 12, 3), [day(10), day(11)])
      assert.deepStrictEqual(yield* takeNights(room.id, 10, 14, 3, [11, 13]), [day(10), day(13)])
      assert.strictEqual(yield* takeNights(0, 10, 12, 1), null)
      yield* assertInventoryClean
    })
  )

  it.scoped("take_nights holds its nights' locks until the caller's transaction ends", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 5 })
      const user = yield* newUser()
      yield* book(room.id, user.id, 20, 23)
      const a = yield* otherConnection
      const b = yield* otherConnection
      yield* query(a, "BEGIN")
      yield* query(a, "SELECT take_nights($1, $2::date, $3::date, 1)", [room.id, day(20), day(22)])
      yield* query(b, "SET lock_timeout = '200ms'")
      const blocked = yield* Effect.promise(() =>
        b.query("SELECT take_nights($1, $2::date, $3::date, 1)", [room.id, day(21), day(23)]).then(
          () => "ran",
          (error: { code?: string }) => error.code
        )
      )
      assert.strictEqual(blocked, "55P03") // lock_not_available
      // a night the first did not look at is free to take
      yield* query(b, "SELECT take_nights($1, $2::date, $3::date, 1)", [room.id, day(22), day(23)])
      yield* query(a, "COMMIT")
      yield* query(b, "SELECT take_nights($1, $2::date, $3::date, 1)", [room.id, day(21), day(23)])
    })
  )

  it.scoped("a night filled by a concurrent booking after the check looked: sold out, nothing written", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const room = yield* insertRoom({ quantity: 1 })
      const [first, second] = [yield* newUser(), yield* newUser()]
      const a = yield* otherConnection
      // the night has no row yet: the other writer creates it, uncommitted, so the check sees nothing to lock
      yield* query(a, "BEGIN")
      yield* query(a, "INSERT INTO bookings (room_id, user_id, date_from, date_to, price) VALUES ($1, $2, $3, $4, 0)", [
        room.id,
        first.id,
        day(30),
        day(31)
      ])
      const racing = yield* Effect.fork(book(room.id, second.id, 30, 31))
      yield* Effect.sleep("300 millis")
      yield* query(a, "COMMIT")
      // the inventory's CHECK refused it (23514), read by the repository as sold out
      assert.deepStrictEqual(yield* Fiber.join(racing), { _tag: "SoldOut", nights: [] })
      const rows = yield* sql<{ user_id: number }>`SELECT user_id FROM bookings WHERE room_id = ${room.id}`
      assert.deepStrictEqual(
        rows.map((row) => row.user_id),
        [first.id]
      )
      yield* assertInventoryClean
    })
  )

  it.scoped("a deadlock is an aborted write (BookingWriteAborted): nothing happened, it may be run again", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 5 })
      const user = yield* newUser()
      yield* book(room.id, user.id, 40, 42)
      const a = yield* otherConnection
      // only the booking's session detects the cycle (after the server's deadlock_timeout), so it is the one aborted
      yield* query(a, "SET deadlock_timeout = '20s'")
      yield* query(a, "BEGIN")
      yield* query(a, "SELECT 1 FROM room_nights WHERE room_id = $1 AND night = $2 FOR UPDATE", [room.id, day(41)])
      // takes night 40, then waits for 41
      const racing = yield* Effect.fork(Effect.flip(book(room.id, user.id, 40, 42)))
      yield* Effect.sleep("300 millis")
      const waiting = Effect.promise(() =>
        a.query("SELECT 1 FROM room_nights WHERE room_id = $1 AND night = $2 FOR UPDATE", [room.id, day(40)])
      )
      const [aborted] = yield* Effect.all([Fiber.join(racing), waiting], { concurrency: 2 })
      assert.strictEqual(aborted._tag, "BookingWriteAborted")
      yield* query(a, "COMMIT")
      const sql = yield* SqlClient.SqlClient
      const [count] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM bookings WHERE room_id = ${room.id}`
      assert.strictEqual(count!.n, 1)
      // run again, it books
      assert.strictEqual((yield* book(room.id, user.id, 40, 42))._tag, "Booked")
      yield* assertInventoryClean
    })
  )
})

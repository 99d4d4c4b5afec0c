/**
 * Holds under concurrency, against the real PostgreSQL (docs/data.md BR-13): holds and bookings racing for
 * the same units never take more than the room type has, and a confirm racing the expiry ends in exactly
 * one outcome; the inventory equals the bookings and active holds after every scenario.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Array, Effect, Random } from "effect"
import { assertInventoryClean, day, insertRoom, newUser, raw } from "./BookingsFixtures.js"
import { TestServer } from "./support.js"

/** Units taken per night (sold + held, as the inventory counts them), and the rows behind them. */
const takenByNight = (roomId: number) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<{ night: string; taken: number }>`
      SELECT night, sold + held AS taken FROM room_nights WHERE room_id = ${roomId} ORDER BY night`
  ).pipe(
    Effect.map((rows) => new Map(rows.map((r) => [r.night, r.taken]))),
    Effect.orDie
  )

const count = (query: string, id: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<{ n: number }>(query, [id])).pipe(
    Effect.map((rows) => rows[0]!.n),
    Effect.orDie
  )

layer(TestServer, { excludeTestServices: true, timeout: "180 seconds" })("holds under concurrency (BR-13)", (it) => {
  it.effect("50 simultaneous holds and bookings of 50 users, quantity 3, same dates: exactly 3 units taken", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 3 })
      const users = yield* Effect.all(Array.makeBy(50, () => newUser()))
      const body = { room_id: room.id, date_from: day(10), date_to: day(13) }
      const answers = yield* Effect.all(
        users.map((user, i) => raw("POST", i % 2 === 0 ? "/holds" : "/bookings", { token: user.token, body })),
        { concurrency: "unbounded" }
      )
      const won = answers.filter((a) => a.status === 200 || a.status === 201)
      assert.strictEqual(won.length, 3, JSON.stringify(answers.map((a) => a.status)))
      assert.strictEqual(answers.filter((a) => a.status === 409).length, 47)
      const taken = yield* takenByNight(room.id)
      assert.deepStrictEqual(
        [10, 11, 12].map((d) => taken.get(day(d))),
        [3, 3, 3]
      )
      const holds = yield* count(
        "SELECT count(*)::int AS n FROM holds WHERE room_id = $1 AND status = 'active'",
        room.id
      )
      const bookings = yield* count("SELECT count(*)::int AS n FROM bookings WHERE room_id = $1", room.id)
      assert.strictEqual(holds + bookings, 3)
      yield* assertInventoryClean
    })
  )

  it.effect("50 simultaneous overlapping holds, bookings, confirms and releases: no night above quantity", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 3 })
      const users = yield* Effect.all(Array.makeBy(50, () => newUser()))
      const work = users.map((user, i) =>
        Effect.gen(function* () {
          const from = yield* Random.nextIntBetween(1, 10)
          const body = {
            room_id: room.id,
            date_from: day(from),
            date_to: day(from + (yield* Random.nextIntBetween(1, 4)))
          }
          if (i % 3 === 0) return yield* raw("POST", "/bookings", { token: user.token, body })
          const hold = yield* raw("POST", "/holds", { token: user.token, body })
          if (hold.status !== 201) return hold
          const id = (hold.body as { id: number }).id
          return i % 3 === 1
            ? yield* raw("POST", `/holds/${id}/confirm`, { token: user.token })
            : yield* raw("DELETE", `/holds/${id}`, { token: user.token })
        })
      )
      const answers = yield* Effect.all(work, { concurrency: "unbounded" })
      assert.isTrue(
        answers.every((a) => a.status === 200 || a.status === 409),
        JSON.stringify(answers.map((a) => a.status))
      )
      const taken = yield* takenByNight(room.id)
      assert.isTrue(
        [...taken.values()].every((n) => n <= 3),
        JSON.stringify([...taken])
      )
      yield* assertInventoryClean
    })
  )

  it.effect("confirm racing the expiry and the sweep, 40 rounds: exactly one outcome each time, no unit lost", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const room = yield* insertRoom({ quantity: 1 })
      const user = yield* newUser()
      const outcomes = { confirmed: 0, expired: 0 }
      for (let round = 0; round < 40; round++) {
        const from = 1 + (round % 20)
        const body = { room_id: room.id, date_from: day(from), date_to: day(from + 1) }
        const hold = yield* raw("POST", "/holds", { token: user.token, body })
        assert.strictEqual(hold.status, 201, JSON.stringify(hold.body))
        const id = (hold.body as { id: number }).id
        // due within a few milliseconds: the confirm, the sweep and the clock race
        yield* sql`UPDATE holds SET expires_at = now() + make_interval(secs => ${(round % 8) / 1000}) WHERE id = ${id}`
        const sweep = Effect.repeatN(sql`SELECT holds_sweep(10)`.pipe(Effect.orDie), 3)
        const confirm = Effect.zipRight(
          Effect.sleep(`${round % 5} millis`),
          raw("POST", `/holds/${id}/confirm`, { token: user.token })
        )
        const [answer] = yield* Effect.all([confirm, sweep], { concurrency: "unbounded" })
        const [row] = yield* sql<{ status: string; booking_id: number | null }>`
          SELECT status, booking_id FROM holds WHERE id = ${id}`
        const [{ bookings } = { bookings: -1 }] = yield* sql<{ bookings: number }>`
          SELECT count(*)::int AS bookings FROM bookings
          WHERE room_id = ${room.id} AND date_from = ${day(from)} AND status = 'confirmed'`
        if (answer.status === 200) {
          outcomes.confirmed++
          assert.strictEqual(row!.status, "confirmed")
          assert.strictEqual(row!.booking_id, (answer.body as { id: number }).id)
          assert.strictEqual(bookings, 1)
          yield* raw("DELETE", `/bookings/${row!.booking_id}`, { token: user.token })
        } else {
          assert.strictEqual(answer.status, 410, JSON.stringify(answer.body))
          outcomes.expired++
          assert.strictEqual(row!.status, "expired")
          assert.strictEqual(bookings, 0)
        }
        yield* assertInventoryClean
      }
      assert.strictEqual(outcomes.confirmed + outcomes.expired, 40)
      assert.isAbove(outcomes.expired, 0, JSON.stringify(outcomes))
    })
  )
})

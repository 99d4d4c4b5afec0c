/**
 * D2 under concurrency, against the real PostgreSQL: simultaneous requests never overbook, never
 * under-sell (every 409 is justified by a full night), and leave the inventory equal to the bookings.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Array, Effect, Order, Random } from "effect"
import { assertInventoryClean, countBookings, day, insertRoom, newUser, raw } from "./BookingsFixtures.js"
import { TestServer } from "./support.js"

const SOLD_OUT = "Все номера данного типа уже забронированы на указанные даты"

/** Bookings in the house per night offset, from the bookings table (the confirmed ones, docs/data.md BR-14). */
const occupancy = (roomId: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ night: string; taken: number }>`
      SELECT b.date_from + i AS night, count(*)::int AS taken
      FROM bookings b CROSS JOIN LATERAL generate_series(0, b.date_to - b.date_from - 1) AS i
      WHERE b.room_id = ${roomId} AND b.status = 'confirmed' GROUP BY 1`.pipe(
      Effect.map((rows) => new Map(rows.map((r) => [r.night, r.taken])))
    )
  ).pipe(Effect.orDie)

const nightsOf = (from: number, to: number) => Array.range(from, to - 1).map(day)

layer(TestServer, { excludeTestServices: true, timeout: "120 seconds" })("bookings under concurrency (D2)", (it) => {
  it.effect("50 simultaneous requests of 50 users, quantity 3, same dates: exactly 3 succeed, 47 get 409", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 3, price: 100 })
      const users = yield* Effect.all(Array.makeBy(50, () => newUser()))
      const body = { room_id: room.id, date_from: day(10), date_to: day(13) }
      const answers = yield* Effect.all(
        users.map((user) => raw("POST", "/bookings", { token: user.token, body })),
        { concurrency: "unbounded" }
      )
      const ok = answers.filter((a) => a.status === 200)
      const refused = answers.filter((a) => a.status === 409)
      assert.strictEqual(ok.length, 3)
      assert.strictEqual(refused.length, 47)
      assert.isTrue(refused.every((a) => (a.body as { detail: string }).detail === SOLD_OUT))
      assert.strictEqual(yield* countBookings(room.id), 3)
      const taken = yield* occupancy(room.id)
      assert.deepStrictEqual(
        nightsOf(10, 13).map((n) => taken.get(n)),
        [3, 3, 3]
      )
      yield* assertInventoryClean
    })
  )

  it.effect(
    "50 simultaneous overlapping stays of different lengths: no night above quantity, every 409 justified",
    () =>
      Effect.gen(function* () {
        const room = yield* insertRoom({ quantity: 3 })
        const users = yield* Effect.all(Array.makeBy(50, () => newUser()))
        const stays = yield* Effect.all(
          users.map(() =>
            Effect.gen(function* () {
              const from = yield* Random.nextIntBetween(1, 14)
              const length = yield* Random.nextIntBetween(1, 5)
              return { from, to: Math.min(from + length, 15) }
            })
          )
        )
        const answers = yield* Effect.all(
          users.map((user, i) =>
            raw("POST", "/bookings", {
              token: user.token,
              body: { room_id: room.id, date_from: day(stays[i]!.from), date_to: day(stays[i]!.to) }
            })
          ),
          { concurrency: "unbounded" }
        )
        assert.isTrue(answers.every((a) => a.status === 200 || a.status === 409))
        const taken = yield* occupancy(room.id)
        assert.isTrue(
          [...taken.values()].every((n) => n <= 3),
          "no night above quantity"
        )
        // nothing was cancelled: a refused stay must still find a full night
        answers.forEach((answer, i) => {
          if (answer.status === 409) {
            const { from, to } = stays[i]!
            assert.isTrue(
              nightsOf(from, to).some((night) => taken.get(night) === 3),
              `refused ${from}..${to} without a full night`
            )
          }
        })
        assert.strictEqual(yield* countBookings(room.id), answers.filter((a) => a.status === 200).length)
        yield* assertInventoryClean
      })
  )

  it.effect("bookings, cancellations, quantity changes and a user's deletion at once keep the inventory exact", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const rooms = yield* Effect.all(Array.makeBy(3, () => insertRoom({ quantity: 4 })))
      const admin = yield* newUser("admin")
      const users = yield* Effect.all(Array.makeBy(12, () => newUser()))
      // some bookings to cancel
      for (const [i, user] of users.entries()) {
        yield* raw("POST", "/bookings", {
          token: user.token,
          body: { room_id: rooms[i % 3]!.id, date_from: day(2 + (i % 4)), date_to: day(5 + (i % 4)) }
        })
      }
      const existing = yield* sql<{ id: number; user_id: number }>`
        SELECT id, user_id FROM bookings WHERE room_id IN ${sql.in(rooms.map((r) => r.id))}`
      const tokenOf = new Map(users.map((u) => [u.id, u.token]))

      const book = Effect.gen(function* () {
        const user = users[yield* Random.nextIntBetween(0, users.length)]!
        const room = rooms[yield* Random.nextIntBetween(0, 3)]!
        const from = yield* Random.nextIntBetween(1, 9)
        return yield* raw("POST", "/bookings", {
          token: user.token,
          body: { room_id: room.id, date_from: day(from), date_to: day(from + (yield* Random.nextIntBetween(1, 4))) }
        })
      })
      const cancels = existing
        .slice(0, 8)
        .map((b) => raw("DELETE", `/bookings/${b.id}`, { token: tokenOf.get(b.user_id)! }))
      const quantities = rooms.flatMap((room) =>
        [2, 6, 3, 5].map((quantity) =>
          raw("PATCH", `/hotels/${room.hotelId}/rooms/${room.id}`, { token: admin.token, body: { quantity } })
        )
      )
      const leaving = users[11]!
      const work = [
        ...Array.makeBy(60, () => book),
        ...cancels,
        ...quantities,
        raw("DELETE", `/users/${leaving.id}`, { token: admin.token })
      ]
      const shuffled = yield* Random.shuffle(work)
      const answers = yield* Effect.all(shuffled, { concurrency: 16 })
      // 401: a request of the user deleted meanwhile
      const expected = [200, 401, 404, 409]
      assert.isTrue(
        answers.every((a) => expected.includes(a.status)),
        JSON.stringify(answers.filter((a) => !expected.includes(a.status)))
      )
      assert.isAbove(answers.filter((a) => a.status === 200).length, 10)
      for (const room of rooms) {
        const [{ quantity } = { quantity: 0 }] = yield* sql<{ quantity: number }>`
          SELECT quantity FROM rooms WHERE id = ${room.id}`
        const taken = yield* occupancy(room.id)
        assert.isTrue(
          [...taken.values()].every((n) => n <= quantity),
          `room ${room.id} above ${quantity}`
        )
      }
      yield* assertInventoryClean
    })
  )

  it.effect("many rooms at once: each room type is serialised on its own, all sell out exactly", () =>
    Effect.gen(function* () {
      const rooms = yield* Effect.all(Array.makeBy(10, () => insertRoom({ quantity: 2 })))
      const users = yield* Effect.all(Array.makeBy(40, () => newUser()))
      const answers = yield* Effect.all(
        users.map((user, i) =>
          raw("POST", "/bookings", {
            token: user.token,
            body: { room_id: rooms[i % 10]!.id, date_from: day(3), date_to: day(6) }
          }).pipe(Effect.map((a) => ({ room: rooms[i % 10]!.id, status: a.status })))
        ),
        { concurrency: "unbounded" }
      )
      for (const room of rooms) {
        const mine = answers.filter((a) => a.room === room.id)
        assert.deepStrictEqual(
          Array.sort(
            mine.map((a) => a.status),
            Order.number
          ),
          [200, 200, 409, 409]
        )
      }
      yield* assertInventoryClean
    })
  )
})

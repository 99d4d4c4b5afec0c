/**
 * Holds under concurrency, against the real PostgreSQL (docs/data.md BR-13): holds and bookings racing for
 * the same units never take more than the room type has, bookings made from holds (their units carried in
 * `held`) moved and cancelled under the same race lose and double no unit, and a confirm racing the expiry ends
 * in exactly one outcome; the inventory equals the bookings and holds after every scenario.
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

  it.effect(
    "bookings made from holds moved and cancelled, racing bookings and holds: no night above quantity, no unit lost",
    () =>
      Effect.gen(function* () {
        const QUANTITY = 2
        const room = yield* insertRoom({ quantity: QUANTITY })
        const users = yield* Effect.all(Array.makeBy(12, () => newUser()))
        const stay = (from: number, to: number) => ({ room_id: room.id, date_from: day(from), date_to: day(to) })
        // each user starts with a stay in [1, 12) made from a hold: its units are carried in held (docs/data.md BR-13)
        const owned = yield* Effect.all(
          users.map((user, i) =>
            Effect.gen(function* () {
              const hold = yield* raw("POST", "/holds", { token: user.token, body: stay(1 + (i % 8), 3 + (i % 8)) })
              if (hold.status !== 201) return undefined
              const booking = yield* raw("POST", `/holds/${(hold.body as { id: number }).id}/confirm`, {
                token: user.token
              })
              assert.strictEqual(booking.status, 200, JSON.stringify(booking.body))
              return { user, id: (booking.body as { id: number }).id }
            })
          )
        )
        const stays = owned.filter((o) => o !== undefined)
        assert.isAbove(stays.length, 0)

        const randomStay = Effect.gen(function* () {
          const from = yield* Random.nextIntBetween(1, 12)
          return stay(from, from + (yield* Random.nextIntBetween(1, 4)))
        })
        const move = Effect.gen(function* () {
          const { user, id } = stays[yield* Random.nextIntBetween(0, stays.length)]!
          const { date_from, date_to } = yield* randomStay
          return yield* raw("POST", `/bookings/${id}/change-dates`, { token: user.token, body: { date_from, date_to } })
        })
        const cancelOne = Effect.gen(function* () {
          const { user, id } = stays[yield* Random.nextIntBetween(0, stays.length)]!
          return yield* raw("POST", `/bookings/${id}/cancel`, { token: user.token })
        })
        const newBooking = Effect.gen(function* () {
          const user = users[yield* Random.nextIntBetween(0, users.length)]!
          return yield* raw("POST", "/bookings", { token: user.token, body: yield* randomStay })
        })
        const holdAndConfirm = Effect.gen(function* () {
          const user = users[yield* Random.nextIntBetween(0, users.length)]!
          const hold = yield* raw("POST", "/holds", { token: user.token, body: yield* randomStay })
          if (hold.status !== 201) return hold
          return yield* raw("POST", `/holds/${(hold.body as { id: number }).id}/confirm`, { token: user.token })
        })
        const answers = yield* Effect.all(
          Array.makeBy(80, (i) => [move, cancelOne, newBooking, holdAndConfirm, move][i % 5]!),
          { concurrency: 24 }
        )
        // a success, a sold-out refusal, or (a move or cancel of a cancelled stay) a conflict
        for (const answer of answers) assert.include([200, 409], answer.status, JSON.stringify(answer.body))
        const taken = yield* takenByNight(room.id)
        assert.isTrue(
          [...taken.values()].every((n) => n <= QUANTITY),
          JSON.stringify([...taken])
        )
        yield* assertInventoryClean

        // no unit lost: every free unit the inventory shows is bookable, and then the night is exactly full
        const filler = yield* newUser()
        for (let night = 1; night < 15; night++) {
          for (let unit = taken.get(day(night)) ?? 0; unit < QUANTITY; unit++) {
            const booked = yield* raw("POST", "/bookings", { token: filler.token, body: stay(night, night + 1) })
            assert.strictEqual(booked.status, 200, `night ${night}`)
          }
          const refused = yield* raw("POST", "/bookings", { token: filler.token, body: stay(night, night + 1) })
          assert.strictEqual(refused.status, 409, `night ${night}`)
        }
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

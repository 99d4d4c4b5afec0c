/**
 * `Idempotency-Key` on `POST /bookings` (D2): same user, key and body → the first answer, nothing new;
 * another body → 422; concurrent duplicates → one booking.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { BookingCreated } from "@shum/domain/Bookings"
import { Array, Effect, Schema } from "effect"
import { assertInventoryClean, countBookings, day, insertRoom, newUser, raw } from "./BookingsFixtures.js"
import { TestServer } from "./support.js"

const withKey = (key: string) => ({ "idempotency-key": key })

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("Idempotency-Key (D2)", (it) => {
  it.effect("a retry with the same key and body answers the first response and books nothing", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1 })
      const user = yield* newUser()
      const body = { room_id: room.id, date_from: day(4), date_to: day(6) }
      const first = yield* raw("POST", "/bookings", { token: user.token, body, headers: withKey("k-1") })
      assert.strictEqual(first.status, 200)
      const [booking] = yield* user.api.bookings.mine({ urlParams: {} })
      assert.deepStrictEqual(first.body, { status: "OK", id: booking!.id, booking })
      // the room is sold out now: without the key this would be a 409
      const retry = yield* raw("POST", "/bookings", { token: user.token, body, headers: withKey("k-1") })
      assert.deepStrictEqual(retry, first)
      // the same body in another spelling (lax integer, other key order) is the same request
      const respelled = yield* raw("POST", "/bookings", {
        token: user.token,
        body: { date_to: day(6), date_from: day(4), room_id: String(room.id) },
        headers: withKey("k-1")
      })
      assert.deepStrictEqual(respelled, first)
      const typed = yield* user.api.bookings.create({ payload: body, headers: withKey("k-1") })
      assert.deepStrictEqual(Schema.encodeSync(BookingCreated)(typed), first.body)
      assert.strictEqual(yield* countBookings(room.id), 1)
      const noKey = yield* raw("POST", "/bookings", { token: user.token, body })
      assert.strictEqual(noKey.status, 409)

      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ booking_id: number; response: unknown }>`
        SELECT booking_id, response FROM idempotency_keys WHERE user_id = ${user.id} AND key = 'k-1'`
      assert.deepStrictEqual(row, { booking_id: booking!.id, response: first.body })
      yield* assertInventoryClean
    })
  )

  it.effect("a key completed before answers carried the booking (D15) replays with the booking read back", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1 })
      const user = yield* newUser()
      const body = { room_id: room.id, date_from: day(4), date_to: day(6) }
      const first = yield* raw("POST", "/bookings", { token: user.token, body, headers: withKey("old-1") })
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE idempotency_keys SET response = '{"status": "OK"}'::jsonb
                 WHERE user_id = ${user.id} AND key = 'old-1'`
      const replayed = yield* raw("POST", "/bookings", { token: user.token, body, headers: withKey("old-1") })
      assert.deepStrictEqual(replayed, first)
      // cancelled since: nothing to show, and nothing is booked again
      const { id } = first.body as { id: number }
      yield* user.api.bookings.delete({ path: { booking_id: id } })
      const gone = yield* raw("POST", "/bookings", { token: user.token, body, headers: withKey("old-1") })
      assert.deepStrictEqual(gone.status, 404)
      assert.strictEqual(yield* countBookings(room.id), 0)
    })
  )

  it.effect("the same key with another body is 422 at the header; keys are per user", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 5 })
      const user = yield* newUser()
      yield* raw("POST", "/bookings", {
        token: user.token,
        body: { room_id: room.id, date_from: day(1), date_to: day(2) },
        headers: withKey("shared")
      })
      const other = yield* raw("POST", "/bookings", {
        token: user.token,
        body: { room_id: room.id, date_from: day(1), date_to: day(3) },
        headers: withKey("shared")
      })
      assert.strictEqual(other.status, 422)
      const [issue] = (other.body as { detail: Array<{ loc: Array<string>; input: unknown }> }).detail
      assert.deepStrictEqual(issue!.loc, ["header", "idempotency-key"])
      assert.strictEqual(issue!.input, "shared")
      // another user's identical key is theirs
      const stranger = yield* newUser()
      const theirs = yield* raw("POST", "/bookings", {
        token: stranger.token,
        body: { room_id: room.id, date_from: day(1), date_to: day(3) },
        headers: withKey("shared")
      })
      assert.strictEqual(theirs.status, 200)
      assert.strictEqual(yield* countBookings(room.id), 2)
      // an empty or too long key is a validation error
      for (const key of ["", "x".repeat(256)]) {
        const bad = yield* raw("POST", "/bookings", {
          token: user.token,
          body: { room_id: room.id, date_from: day(1), date_to: day(2) },
          headers: withKey(key)
        })
        assert.strictEqual(bad.status, 422, `key of ${key.length}`)
      }
    })
  )

  it.effect("a failed request leaves no trace: its retry is tried again", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1 })
      const user = yield* newUser()
      const holder = yield* newUser()
      yield* holder.api.bookings.create({
        payload: { room_id: room.id, date_from: day(8), date_to: day(9) },
        headers: {}
      })
      const body = { room_id: room.id, date_from: day(8), date_to: day(9) }
      const refused = yield* raw("POST", "/bookings", { token: user.token, body, headers: withKey("after-409") })
      assert.strictEqual(refused.status, 409)
      const [held] = yield* holder.api.bookings.mine({ urlParams: {} })
      yield* holder.api.bookings.delete({ path: { booking_id: held!.id } })
      const retried = yield* raw("POST", "/bookings", { token: user.token, body, headers: withKey("after-409") })
      assert.strictEqual(retried.status, 200)
      const unknown = yield* raw("POST", "/bookings", {
        token: user.token,
        body: { room_id: 987_654, date_from: day(8), date_to: day(9) },
        headers: withKey("unknown-room")
      })
      assert.strictEqual(unknown.status, 404)
    })
  )

  it.effect("a key older than 24 h counts as unused", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 3 })
      const user = yield* newUser()
      const body = { room_id: room.id, date_from: day(2), date_to: day(3) }
      yield* raw("POST", "/bookings", { token: user.token, body, headers: withKey("old") })
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = ${user.id}`
      const again = yield* raw("POST", "/bookings", { token: user.token, body, headers: withKey("old") })
      assert.strictEqual(again.status, 200)
      assert.strictEqual(yield* countBookings(room.id), 2)
      const [row] = yield* sql<{ fresh: boolean }>`
        SELECT created_at > now() - interval '1 hour' AS fresh FROM idempotency_keys WHERE user_id = ${user.id}`
      assert.isTrue(row!.fresh)
    })
  )

  it.effect("20 concurrent retries with one key create one booking, and all answer the first response", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 10 })
      const user = yield* newUser()
      const body = { room_id: room.id, date_from: day(12), date_to: day(15) }
      const answers = yield* Effect.all(
        Array.makeBy(20, () => raw("POST", "/bookings", { token: user.token, body, headers: withKey("burst") })),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(
        answers.map((a) => a.status),
        Array.makeBy(20, () => 200)
      )
      assert.strictEqual(yield* countBookings(room.id), 1)
      yield* assertInventoryClean

      // and under a flash sale: concurrent keyed duplicates from many users never book twice per key
      const many = yield* Effect.all(Array.makeBy(10, () => newUser()))
      const flash = yield* insertRoom({ quantity: 4 })
      const flashBody = { room_id: flash.id, date_from: day(20), date_to: day(21) }
      const results = yield* Effect.all(
        many.flatMap((u) =>
          Array.makeBy(3, () => raw("POST", "/bookings", { token: u.token, body: flashBody, headers: withKey("buy") }))
        ),
        { concurrency: "unbounded" }
      )
      assert.isTrue(results.every((a) => a.status === 200 || a.status === 409))
      const sql = yield* SqlClient.SqlClient
      const perUser = yield* sql<{ user_id: number; n: number }>`
        SELECT user_id, count(*)::int AS n FROM bookings WHERE room_id = ${flash.id} GROUP BY user_id`
      assert.strictEqual(perUser.length, 4)
      assert.isTrue(perUser.every((r) => r.n === 1))
      yield* assertInventoryClean
    })
  )
})

/**
 * A booking's lifecycle as commands on PostgreSQL (docs/data.md BR-14, migration 0010): `status`, the cancel
 * command, the change of dates (atomic, repriced, its own nights its own, 409 naming the full nights), the lists'
 * `status` filter, `Idempotency-Key` on each command, and change-dates racing bookings.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Messages } from "@shum/domain/Messages"
import { Array, Effect, Random } from "effect"
import { Metrics } from "../src/Metrics.js"
import { assertInventoryClean, countBookings, day, insertRoom, newUser, raw, soldByNight } from "./BookingsFixtures.js"
import { TestServer } from "./support.js"

const stay = (roomId: number, from: number, to: number) => ({ room_id: roomId, date_from: day(from), date_to: day(to) })
const dates = (from: number, to: number) => ({ date_from: day(from), date_to: day(to) })

type Answer = { readonly status: number; readonly body: unknown }
const detail = (answer: Answer) => (answer.body as { detail: unknown }).detail
const bodyOf = (answer: Answer) => answer.body as Record<string, unknown>

/** Books and answers the new booking's id. */
const book = (token: string, roomId: number, from: number, to: number) =>
  Effect.map(raw("POST", "/bookings", { token, body: stay(roomId, from, to) }), (answer) => {
    assert.strictEqual(answer.status, 200, JSON.stringify(answer.body))
    return (answer.body as { id: number }).id
  })

/** Units taken per night of `[from, to)`, counted from the confirmed bookings. */
const takenPerNight = (roomId: number, from: number, to: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ night: string; taken: number }>`
      SELECT b.date_from + i AS night, count(*)::int AS taken
      FROM bookings b CROSS JOIN LATERAL generate_series(0, b.date_to - b.date_from - 1) AS i
      WHERE b.room_id = ${roomId} AND b.status = 'confirmed' GROUP BY 1`.pipe(
      Effect.map((rows) => {
        const taken = new Map(rows.map((row) => [row.night, row.taken]))
        return Array.range(from, to - 1).map((n) => taken.get(day(n)) ?? 0)
      })
    )
  ).pipe(Effect.orDie)

/** `booking_cancels_total` / `booking_date_changes_total` per `outcome` label, as this server counted them. */
const counted = (name: "bookingCancels" | "bookingDateChanges") =>
  Effect.flatMap(Metrics, ({ counters }) =>
    Effect.promise(async () =>
      Object.fromEntries((await counters[name].get()).values.map((v) => [String(v.labels["outcome"]), v.value]))
    )
  )

/** What each outcome gained between `before` and `after` (outcomes that did not move left out). */
const gained = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(after)
      .map(([outcome, n]) => [outcome, n - (before[outcome] ?? 0)] as const)
      .filter(([, n]) => n !== 0)
  )

layer(TestServer, { excludeTestServices: true, timeout: "120 seconds" })("booking commands (BR-14)", (it) => {
  it.effect("metrics: booking_cancels_total and booking_date_changes_total count each command by outcome", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1, price: 100 })
      const [owner, other] = [yield* newUser(), yield* newUser()]
      const cancels = yield* counted("bookingCancels")
      const changes = yield* counted("bookingDateChanges")
      const id = yield* book(owner.token, room.id, 3, 5)
      const change = (body: unknown, bookingId: number = id, headers: Record<string, string> = {}) =>
        raw("POST", `/bookings/${bookingId}/change-dates`, { token: owner.token, body, headers })
      assert.strictEqual((yield* change(dates(3, 5))).status, 200)
      assert.strictEqual((yield* change(dates(4, 6))).status, 200)
      yield* book(other.token, room.id, 8, 9)
      assert.strictEqual((yield* change(dates(7, 9))).status, 409)
      assert.strictEqual((yield* change(dates(-2, 1))).status, 400)
      assert.strictEqual((yield* change(dates(1, 200))).status, 422)
      assert.strictEqual((yield* change(dates(5, 7), 999_999)).status, 404)
      const keyed = { "idempotency-key": `move-${id}` }
      assert.strictEqual((yield* change(dates(5, 7), id, keyed)).status, 200)
      assert.strictEqual((yield* change(dates(5, 7), id, keyed)).status, 200)
      assert.deepStrictEqual(gained(changes, yield* counted("bookingDateChanges")), {
        unchanged: 1,
        changed: 2,
        sold_out: 1,
        dates_refused: 2,
        not_found: 1,
        replayed: 1
      })

      const cancel = (token: string, bookingId: number = id) => raw("POST", `/bookings/${bookingId}/cancel`, { token })
      assert.strictEqual((yield* cancel(other.token)).status, 403)
      assert.strictEqual((yield* cancel(owner.token)).status, 200)
      assert.strictEqual((yield* cancel(owner.token)).status, 409)
      assert.strictEqual((yield* raw("DELETE", `/bookings/${id}`, { token: owner.token })).status, 404)
      const beforeLast = yield* counted("bookingDateChanges")
      assert.strictEqual((yield* change(dates(5, 7))).status, 409)
      assert.deepStrictEqual(gained(cancels, yield* counted("bookingCancels")), {
        forbidden: 1,
        cancelled: 1,
        already_cancelled: 1,
        not_found: 1
      })
      assert.deepStrictEqual(gained(beforeLast, yield* counted("bookingDateChanges")), { already_cancelled: 1 })
    })
  )

  it.effect("cancel: 401, 422, 404, 403, then the booking kept as cancelled, its nights free; again 409", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1, price: 1000 })
      const [owner, other, admin] = [yield* newUser(), yield* newUser(), yield* newUser("admin")]
      const id = yield* book(owner.token, room.id, 3, 5)
      const cancel = (token: string | undefined, bookingId: number | string = id) =>
        raw("POST", `/bookings/${bookingId}/cancel`, token === undefined ? {} : { token })
      assert.strictEqual((yield* cancel(undefined)).status, 401)
      assert.strictEqual((yield* cancel(owner.token, "abc")).status, 422)
      const missing = yield* cancel(owner.token, 999_999)
      assert.deepStrictEqual([missing.status, detail(missing)], [404, Messages.bookingNotFound])
      const notYours = yield* cancel(other.token)
      assert.deepStrictEqual([notYours.status, detail(notYours)], [403, Messages.bookingNotYours])

      const cancelled = yield* cancel(owner.token)
      assert.strictEqual(cancelled.status, 200)
      assert.deepInclude(bodyOf(cancelled), { id, room_id: room.id, user_id: owner.id, status: "cancelled" })
      const again = yield* cancel(owner.token)
      assert.deepStrictEqual([again.status, detail(again)], [409, Messages.bookingCancelled])
      // DELETE of a cancelled booking: the 404 of a deleted one, as before
      assert.strictEqual((yield* raw("DELETE", `/bookings/${id}`, { token: owner.token })).status, 404)

      // kept: the owner and admins read it; the lists show it only when asked
      assert.deepStrictEqual((yield* raw("GET", `/bookings/${id}`, { token: owner.token })).body, cancelled.body)
      assert.deepStrictEqual((yield* raw("GET", `/bookings/${id}`, { token: admin.token })).body, cancelled.body)
      assert.strictEqual((yield* raw("GET", `/bookings/${id}`, { token: other.token })).status, 404)
      assert.deepStrictEqual(yield* owner.api.bookings.mine({ urlParams: {} }), [])
      const history = yield* owner.api.bookings.mine({ urlParams: { status: "cancelled" } })
      assert.deepStrictEqual(
        history.map((b) => [b.id, b.status]),
        [[id, "cancelled"]]
      )
      const everyone = yield* admin.api.bookings.list({ urlParams: { status: "cancelled", per_page: 20 } })
      assert.isTrue(everyone.some((b) => b.id === id))
      assert.isFalse((yield* admin.api.bookings.list({ urlParams: { per_page: 20 } })).some((b) => b.id === id))
      assert.strictEqual((yield* raw("GET", "/bookings/me?status=gone", { token: owner.token })).status, 422)

      // its nights sell again; an admin cancels anyone's; DELETE keeps the row too
      const next = yield* book(other.token, room.id, 3, 5)
      assert.strictEqual((yield* cancel(admin.token, next)).status, 200)
      const third = yield* book(other.token, room.id, 3, 5)
      assert.deepStrictEqual((yield* raw("DELETE", `/bookings/${third}`, { token: other.token })).body, {
        status: "OK"
      })
      assert.strictEqual(bodyOf(yield* raw("GET", `/bookings/${third}`, { token: other.token })).status, "cancelled")
      assert.deepStrictEqual(
        (yield* soldByNight(room.id)).map((n) => n.sold),
        [0, 0]
      )
      assert.strictEqual(yield* countBookings(room.id), 0)
      yield* assertInventoryClean
    })
  )

  it.effect("change-dates: moves the stay atomically and reprices it; its own nights stay its own", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1, price: 1000 })
      const [owner, other] = [yield* newUser(), yield* newUser()]
      const id = yield* book(owner.token, room.id, 10, 12)
      yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`UPDATE rooms SET price = 1500 WHERE id = ${room.id}`)
      const change = (token: string, body: unknown, bookingId: number = id) =>
        raw("POST", `/bookings/${bookingId}/change-dates`, { token, body })

      // overlapping its own nights on a room of one unit
      const moved = yield* change(owner.token, dates(11, 14))
      assert.strictEqual(moved.status, 200)
      assert.deepInclude(bodyOf(moved), { id, date_from: day(11), date_to: day(14), price: 4500, status: "confirmed" })
      assert.deepStrictEqual(yield* takenPerNight(room.id, 10, 15), [0, 1, 1, 1, 0])
      // the night it left sells; the nights it took do not
      yield* book(other.token, room.id, 10, 11)
      assert.strictEqual(
        (yield* raw("POST", "/bookings", { token: other.token, body: stay(room.id, 13, 14) })).status,
        409
      )

      // full nights are named, and nothing changes
      yield* book(other.token, room.id, 16, 18)
      const full = yield* change(owner.token, dates(14, 18))
      assert.deepStrictEqual([full.status, detail(full)], [409, Messages.nightsSoldOut([day(16), day(17)])])
      assert.deepStrictEqual(yield* takenPerNight(room.id, 10, 18), [1, 1, 1, 1, 0, 0, 1, 1])
      assert.deepInclude(bodyOf(yield* raw("GET", `/bookings/${id}`, { token: owner.token })), {
        date_from: day(11),
        date_to: day(14),
        price: 4500
      })

      // the rules of a booking's dates, its rights and its state
      const reversed = yield* change(owner.token, dates(15, 14))
      assert.deepStrictEqual([reversed.status, detail(reversed)], [400, Messages.stayInvalid])
      const past = yield* change(owner.token, dates(-1, 2))
      assert.deepStrictEqual([past.status, detail(past)], [400, Messages.stayInPast])
      const tooLong = yield* change(owner.token, dates(20, 200))
      assert.strictEqual(tooLong.status, 422)
      assert.strictEqual((yield* change(owner.token, { date_from: day(20) })).status, 422)
      const stranger = yield* change(other.token, dates(20, 21))
      assert.deepStrictEqual([stranger.status, detail(stranger)], [403, Messages.forbidden])
      assert.strictEqual((yield* change(owner.token, dates(20, 21), 999_999)).status, 404)
      assert.strictEqual((yield* raw("POST", `/bookings/${id}/change-dates`, { body: dates(20, 21) })).status, 401)
      // the same dates again: nothing moves, the price stays
      assert.deepStrictEqual((yield* change(owner.token, dates(11, 14))).body, moved.body)

      // a total above what a booking holds is a 422 on date_to, nothing moved
      yield* Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql`UPDATE rooms SET price = 1500000000 WHERE id = ${room.id}`
      )
      const overflow = yield* change(owner.token, dates(20, 22))
      assert.strictEqual(overflow.status, 422)
      assert.deepInclude((detail(overflow) as Array<unknown>)[0], { loc: ["body", "date_to"] })

      yield* raw("POST", `/bookings/${id}/cancel`, { token: owner.token })
      const cancelled = yield* change(owner.token, dates(20, 21))
      assert.deepStrictEqual([cancelled.status, detail(cancelled)], [409, Messages.bookingCancelled])
      yield* assertInventoryClean
    })
  )

  it.effect("Idempotency-Key on the commands: the first answer again, another request 422, a refusal forgotten", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1 })
      const [owner, other] = [yield* newUser(), yield* newUser()]
      const id = yield* book(owner.token, room.id, 5, 7)
      const withKey = (key: string) => ({ "idempotency-key": key })
      const change = (key: string, from: number, to: number) =>
        raw("POST", `/bookings/${id}/change-dates`, {
          token: owner.token,
          body: dates(from, to),
          headers: withKey(key)
        })

      const first = yield* change("move-1", 8, 10)
      assert.strictEqual(first.status, 200)
      yield* change("move-2", 12, 13)
      // the same key and request: the first answer, and the stay does not move back
      assert.deepStrictEqual(yield* change("move-1", 8, 10), first)
      assert.deepStrictEqual(yield* takenPerNight(room.id, 8, 14), [0, 0, 0, 0, 1, 0])
      const reused = yield* change("move-1", 20, 21)
      assert.deepStrictEqual(
        [reused.status, (detail(reused) as Array<{ loc: unknown }>)[0]!.loc],
        [422, ["header", "idempotency-key"]]
      )
      // a key of POST /bookings is the same user's key: another request
      yield* raw("POST", "/bookings", { token: owner.token, body: stay(room.id, 30, 31), headers: withKey("shared") })
      assert.strictEqual((yield* change("shared", 14, 15)).status, 422)

      // refused (sold out), the key is not remembered: once the nights are free it moves
      const blocker = yield* book(other.token, room.id, 15, 16)
      assert.strictEqual((yield* change("move-3", 15, 16)).status, 409)
      yield* raw("POST", `/bookings/${blocker}/cancel`, { token: other.token })
      assert.strictEqual((yield* change("move-3", 15, 16)).status, 200)

      const cancel = (key: string) =>
        raw("POST", `/bookings/${id}/cancel`, { token: owner.token, headers: withKey(key) })
      const cancelled = yield* cancel("cancel-1")
      assert.strictEqual(cancelled.status, 200)
      assert.deepStrictEqual(yield* cancel("cancel-1"), cancelled)
      assert.strictEqual((yield* cancel("cancel-2")).status, 409)
      yield* assertInventoryClean
    })
  )

  it.effect(
    "the inventory follows status whoever writes: a cancelled row holds nothing, a confirmed one its nights",
    () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const room = yield* insertRoom({ quantity: 1 })
        const user = yield* newUser()
        yield* sql`INSERT INTO bookings (room_id, user_id, date_from, date_to, price, status)
                 VALUES (${room.id}, ${user.id}, ${day(40)}, ${day(42)}, 0, 'cancelled')`
        assert.deepStrictEqual(yield* takenPerNight(room.id, 40, 42), [0, 0])
        const id = yield* book(user.token, room.id, 40, 42)
        yield* assertInventoryClean
        // an operator cancels, then confirms again (the CHECK refuses it while the nights are taken)
        yield* sql`UPDATE bookings SET status = 'cancelled' WHERE id = ${id}`
        yield* sql`UPDATE bookings SET status = 'confirmed' WHERE status = 'cancelled' AND room_id = ${room.id}
                 AND id <> ${id}`
        const refused = yield* Effect.either(sql`UPDATE bookings SET status = 'confirmed' WHERE id = ${id}`)
        assert.strictEqual(refused._tag, "Left")
        yield* sql`DELETE FROM bookings WHERE room_id = ${room.id} AND id <> ${id}`
        yield* sql`UPDATE bookings SET status = 'confirmed' WHERE id = ${id}`
        assert.deepStrictEqual(
          (yield* soldByNight(room.id)).map((n) => n.sold),
          [1, 1]
        )
        yield* sql`UPDATE bookings SET status = 'bogus' WHERE id = ${id}`.pipe(Effect.flip)
        yield* assertInventoryClean
      })
  )

  it.effect("change-dates racing bookings and cancellations: no night above quantity, no unit lost", () =>
    Effect.gen(function* () {
      const QUANTITY = 2
      const room = yield* insertRoom({ quantity: QUANTITY })
      const users = yield* Effect.all(Array.makeBy(12, () => newUser()))
      // each user starts with a stay in [1, 12)
      const owned = yield* Effect.all(
        users.map((user, i) =>
          Effect.map(
            raw("POST", "/bookings", { token: user.token, body: stay(room.id, 1 + (i % 8), 3 + (i % 8)) }),
            (a) => (a.status === 200 ? { user, id: (a.body as { id: number }).id } : undefined)
          )
        )
      )
      const stays = owned.filter((o) => o !== undefined)
      assert.isAbove(stays.length, 0)

      const randomStay = Effect.gen(function* () {
        const from = yield* Random.nextIntBetween(1, 12)
        return [from, from + (yield* Random.nextIntBetween(1, 4))] as const
      })
      const move = Effect.gen(function* () {
        const { user, id } = stays[yield* Random.nextIntBetween(0, stays.length)]!
        const [from, to] = yield* randomStay
        return yield* raw("POST", `/bookings/${id}/change-dates`, { token: user.token, body: dates(from, to) })
      })
      const newBooking = Effect.gen(function* () {
        const user = users[yield* Random.nextIntBetween(0, users.length)]!
        const [from, to] = yield* randomStay
        return yield* raw("POST", "/bookings", { token: user.token, body: stay(room.id, from, to) })
      })
      const cancelOne = Effect.gen(function* () {
        const { user, id } = stays[yield* Random.nextIntBetween(0, stays.length)]!
        return yield* raw("POST", `/bookings/${id}/cancel`, { token: user.token })
      })
      const answers = yield* Effect.all(
        Array.makeBy(90, (i) => (i % 9 === 8 ? cancelOne : i % 2 === 0 ? move : newBooking)),
        { concurrency: 24 }
      )
      // every answer is a success, a sold-out refusal or (a move or cancel of a cancelled stay) a conflict
      for (const answer of answers) {
        assert.include([200, 409], answer.status, JSON.stringify(answer.body))
      }
      const taken = yield* takenPerNight(room.id, 1, 15)
      assert.isTrue(
        taken.every((n) => n <= QUANTITY),
        `taken per night: ${taken.join(", ")}`
      )
      yield* assertInventoryClean

      // no unit lost: every free unit the inventory shows is bookable, and then the room is exactly full
      const filler = yield* newUser()
      for (let night = 1; night < 15; night++) {
        for (let unit = taken[night - 1]!; unit < QUANTITY; unit++) yield* book(filler.token, room.id, night, night + 1)
        const refused = yield* raw("POST", "/bookings", { token: filler.token, body: stay(room.id, night, night + 1) })
        assert.strictEqual(refused.status, 409, `night ${night}`)
      }
      assert.deepStrictEqual(
        yield* takenPerNight(room.id, 1, 15),
        Array.makeBy(14, () => QUANTITY)
      )
      yield* assertInventoryClean
    })
  )
})

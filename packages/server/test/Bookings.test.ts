import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Forbidden, InvalidDateRange, NotFound, RoomUnavailable } from "@shum/domain/Errors"
import { Effect } from "effect"
import { Metrics } from "../src/Metrics.js"
import { assertInventoryClean, countBookings, day, insertRoom, newUser, raw, soldByNight } from "./BookingsFixtures.js"
import { client, detailOf, TestServer } from "./support.js"

const stay = (roomId: number, from: number, to: number) => ({ room_id: roomId, date_from: day(from), date_to: day(to) })

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("bookings (docs/api.md §8.7, D2)", (it) => {
  it.effect("POST /bookings books one unit: 200 Message, price = nights × price, counted in the metric", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 2, price: 3000 })
      const user = yield* newUser()
      const { counters } = yield* Metrics
      const before = (yield* Effect.promise(() => counters.bookingsCreated.get())).values[0]?.value ?? 0
      const answer = yield* user.api.bookings.create({ payload: stay(room.id, 10, 14), headers: {} })
      // D15: the original's body, the id and the booking itself
      assert.strictEqual(answer.status, "OK")
      assert.strictEqual(answer.id, answer.booking.id)
      const after = (yield* Effect.promise(() => counters.bookingsCreated.get())).values[0]?.value ?? 0
      assert.strictEqual(after, before + 1)

      const [booking] = yield* user.api.bookings.mine({ urlParams: {} })
      assert.strictEqual(booking!.room_id, room.id)
      assert.strictEqual(booking!.user_id, user.id)
      assert.strictEqual(booking!.date_from, day(10))
      assert.strictEqual(booking!.date_to, day(14))
      assert.strictEqual(booking!.price, 4 * 3000)
      assert.match(booking!.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$/)
      assert.deepStrictEqual(answer.booking, booking)
      assert.deepStrictEqual(
        (yield* soldByNight(room.id)).map((n) => [n.night, n.sold, n.capacity]),
        [10, 11, 12, 13].map((d) => [day(d), 1, 2])
      )
      yield* assertInventoryClean
    })
  )

  it.effect("the price is fixed at booking time; created_at drops zero microseconds", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1, price: 500 })
      const user = yield* newUser()
      yield* user.api.bookings.create({ payload: stay(room.id, 3, 5), headers: {} })
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE rooms SET price = 999 WHERE id = ${room.id}`
      yield* sql`UPDATE bookings SET created_at = '2026-02-12T10:15:30Z' WHERE room_id = ${room.id}`
      const [booking] = yield* user.api.bookings.mine({ urlParams: {} })
      assert.strictEqual(booking!.price, 1000)
      assert.strictEqual(booking!.created_at, "2026-02-12T10:15:30Z")
      yield* sql`UPDATE bookings SET created_at = '2026-02-12T13:15:30.1234+03' WHERE room_id = ${room.id}`
      const [again] = yield* user.api.bookings.mine({ urlParams: {} })
      assert.strictEqual(again!.created_at, "2026-02-12T10:15:30.123400Z")
    })
  )

  it.effect("a stay whose total overflows a booking's price is a 422 naming the limit, with or without a key", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 3, price: 1_500_000_000 })
      const user = yield* newUser()
      for (const headers of [{}, { "idempotency-key": `overflow-${room.id}` }]) {
        const response = yield* raw("POST", "/bookings", { token: user.token, headers, body: stay(room.id, 1, 3) })
        assert.strictEqual(response.status, 422, JSON.stringify(headers))
        assert.deepInclude((response.body as { detail: Array<unknown> }).detail[0], {
          type: "value_error",
          loc: ["body", "date_to"],
          msg: "Value error, the stay's total price (the room's price × nights) is above 2147483647, the most a booking can hold"
        })
      }
      assert.strictEqual(yield* countBookings(room.id), 0)
      // one night fits: booked, and nothing was left behind by the refused ones
      const one = yield* raw("POST", "/bookings", { token: user.token, body: stay(room.id, 1, 2) })
      assert.strictEqual(one.status, 200)
      assert.strictEqual(yield* countBookings(room.id), 1)
      yield* assertInventoryClean
    })
  )

  it.effect("POST order: 401, 422, unknown room 404 (before the dates), 400 E-41, past 400, sold out 409", () =>
    Effect.gen(function* () {
      const anonymous = yield* raw("POST", "/bookings", { body: { room_id: "x" } })
      assert.strictEqual(anonymous.status, 401)
      const user = yield* newUser()
      const invalid = yield* raw("POST", "/bookings", {
        token: user.token,
        body: { room_id: 1, date_from: "2030-13-01" }
      })
      assert.strictEqual(invalid.status, 422)

      const missing = yield* Effect.flip(
        user.api.bookings.create({ payload: { room_id: 999_999, date_from: day(5), date_to: day(1) }, headers: {} })
      )
      assert.deepStrictEqual(missing, new NotFound({ detail: "Номер с ID 999999 не найден" }))
      const huge = yield* raw("POST", "/bookings", {
        token: user.token,
        body: { room_id: 3_000_000_000, date_from: day(1), date_to: day(2) }
      })
      // D11: an id the column cannot hold is a 422 naming the bound (it never reaches the database)
      assert.strictEqual(huge.status, 422)
      assert.deepInclude((huge.body as { detail: Array<unknown> }).detail[0], {
        type: "less_than_equal",
        loc: ["body", "room_id"],
        msg: "Input should be less than or equal to 2147483647",
        ctx: { le: 2147483647 }
      })

      const room = yield* insertRoom({ quantity: 1 })
      for (const [from, to] of [
        [5, 5],
        [6, 5]
      ] as const) {
        const error = yield* Effect.flip(user.api.bookings.create({ payload: stay(room.id, from, to), headers: {} }))
        assert.deepStrictEqual(error, new InvalidDateRange({ detail: "Дата заезда должна быть раньше даты выезда" }))
      }
      const past = yield* Effect.flip(user.api.bookings.create({ payload: stay(room.id, -1, 2), headers: {} }))
      assert.deepStrictEqual(past, new InvalidDateRange({ detail: "Дата заезда не может быть в прошлом" }))
      // today is not the past
      yield* user.api.bookings.create({ payload: stay(room.id, 0, 1), headers: {} })

      yield* user.api.bookings.create({ payload: stay(room.id, 20, 22), headers: {} })
      const soldOut = yield* raw("POST", "/bookings", { token: user.token, body: stay(room.id, 21, 23) })
      assert.strictEqual(soldOut.status, 409)
      assert.deepInclude(soldOut.body as object, {
        type: "/problems/room-unavailable",
        status: 409,
        detail: "Все номера данного типа уже забронированы на указанные даты"
      })
      const zero = yield* insertRoom({ quantity: 0 })
      const none = yield* Effect.flip(user.api.bookings.create({ payload: stay(zero.id, 1, 2), headers: {} }))
      assert.deepStrictEqual(
        none,
        new RoomUnavailable({ detail: "Все номера данного типа уже забронированы на указанные даты" })
      )
      // lax integers, as the original accepted them
      const lax = yield* raw("POST", "/bookings", {
        token: user.token,
        body: { room_id: String(room.id), date_from: day(30), date_to: day(31) }
      })
      assert.strictEqual(lax.status, 200)
      assert.deepInclude(lax.body, { status: "OK" })
      assert.strictEqual(yield* countBookings(room.id), 3)
      assert.strictEqual(yield* countBookings(zero.id), 0)
      yield* assertInventoryClean
    })
  )

  it.effect("back-to-back stays (D2): quantity 2, [1,3) and [3,5) booked, [2,4) fits once", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 2 })
      const user = yield* newUser()
      yield* user.api.bookings.create({ payload: stay(room.id, 1, 3), headers: {} })
      yield* user.api.bookings.create({ payload: stay(room.id, 3, 5), headers: {} })
      yield* user.api.bookings.create({ payload: stay(room.id, 2, 4), headers: {} })
      const full = yield* Effect.flip(user.api.bookings.create({ payload: stay(room.id, 2, 4), headers: {} }))
      assert.strictEqual(full._tag, "RoomUnavailable")
      // night 1 and night 4 still have a unit
      yield* user.api.bookings.create({ payload: stay(room.id, 1, 2), headers: {} })
      yield* user.api.bookings.create({ payload: stay(room.id, 4, 6), headers: {} })
      const r2 = yield* raw("GET", `/hotels/${room.hotelId}/rooms/available?date_from=${day(5)}&date_to=${day(7)}`)
      assert.strictEqual(r2.status, 200)
      assert.deepStrictEqual(
        (r2.body as Array<{ id: number; quantity: number }>).map((r) => [r.id, r.quantity]),
        [[room.id, 1]]
      )
      const none = yield* raw("GET", `/hotels/${room.hotelId}/rooms/available?date_from=${day(1)}&date_to=${day(5)}`)
      assert.deepStrictEqual(none.body, [])
      const h2 = (from: number, to: number) =>
        raw("GET", `/hotels/rooms/available?hotel_id=${room.hotelId}&date_from=${day(from)}&date_to=${day(to)}`).pipe(
          Effect.map((answer) =>
            (answer.body as Array<{ id: number; rooms: Array<{ id: number; quantity: number }> }>).map((hotel) => [
              hotel.id,
              hotel.rooms.map((r) => [r.id, r.quantity])
            ])
          )
        )
      assert.deepStrictEqual(yield* h2(5, 7), [[room.hotelId, [[room.id, 1]]]])
      assert.deepStrictEqual(yield* h2(1, 2), [[room.hotelId, []]])
      assert.deepStrictEqual(yield* h2(6, 9), [[room.hotelId, [[room.id, 2]]]])
      yield* assertInventoryClean
    })
  )

  it.effect("GET /bookings/me: the caller's own, date_from then id descending, paginated; 401; 422", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 5 })
      const user = yield* newUser()
      const other = yield* newUser()
      for (const [from, to] of [
        [3, 4],
        [7, 9],
        [3, 6],
        [1, 2]
      ] as const) {
        yield* user.api.bookings.create({ payload: stay(room.id, from, to), headers: {} })
      }
      yield* other.api.bookings.create({ payload: stay(room.id, 8, 9), headers: {} })
      const mine = yield* user.api.bookings.mine({ urlParams: {} })
      assert.deepStrictEqual(
        mine.map((b) => [b.date_from, b.date_to]),
        [
          [day(7), day(9)],
          [day(3), day(6)],
          [day(3), day(4)],
          [day(1), day(2)]
        ]
      )
      assert.isTrue(mine.every((b) => b.user_id === user.id))
      const page2 = yield* user.api.bookings.mine({ urlParams: { page: 2, per_page: 3 } })
      assert.deepStrictEqual(
        page2.map((b) => b.id),
        [mine[3]!.id]
      )
      assert.deepStrictEqual(yield* user.api.bookings.mine({ urlParams: { page: 3, per_page: 3 } }), [])
      assert.strictEqual((yield* raw("GET", "/bookings/me")).status, 401)
      assert.strictEqual((yield* raw("GET", "/bookings/me?per_page=21", { token: user.token })).status, 422)
    })
  )

  it.effect("GET /bookings is admin-only (D1): 401, 403, an admin sees everyone's, paginated", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 3 })
      const user = yield* newUser()
      yield* user.api.bookings.create({ payload: stay(room.id, 400, 401), headers: {} })
      const anonymous = yield* Effect.flip((yield* client).bookings.list({ urlParams: {} }))
      assert.strictEqual(anonymous._tag, "Unauthorized")
      const forbidden = yield* Effect.flip(user.api.bookings.list({ urlParams: {} }))
      assert.deepStrictEqual(forbidden, new Forbidden({ detail: "Недостаточно прав" }))
      const admin = yield* newUser("admin")
      const [latest] = yield* admin.api.bookings.list({ urlParams: { per_page: 1 } })
      assert.strictEqual(latest!.user_id, user.id)
      assert.strictEqual(latest!.date_from, day(400))
      const all = yield* admin.api.bookings.list({ urlParams: { per_page: 20 } })
      assert.isAbove(new Set(all.map((b) => b.user_id)).size, 1)
      const sorted = [...all].sort((a, b) =>
        a.date_from === b.date_from ? b.id - a.id : a.date_from < b.date_from ? 1 : -1
      )
      assert.deepStrictEqual(
        all.map((b) => b.id),
        sorted.map((b) => b.id)
      )
    })
  )

  it.effect("DELETE /bookings/{id}: 404 E-19, another user's 403 E-43, owner and admin cancel, nights freed", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1 })
      const owner = yield* newUser()
      const other = yield* newUser()
      const admin = yield* newUser("admin")
      yield* owner.api.bookings.create({ payload: stay(room.id, 2, 4), headers: {} })
      const [booking] = yield* owner.api.bookings.mine({ urlParams: {} })

      const missing = yield* Effect.flip(owner.api.bookings.delete({ path: { booking_id: 999_999 } }))
      assert.deepStrictEqual(missing, new NotFound({ detail: "Бронирование не найдено" }))
      assert.strictEqual((yield* raw("DELETE", "/bookings/99999999999", { token: owner.token })).status, 404)
      assert.strictEqual((yield* raw("DELETE", "/bookings/abc", { token: owner.token })).status, 422)
      const notYours = yield* Effect.flip(other.api.bookings.delete({ path: { booking_id: booking!.id } }))
      assert.deepStrictEqual(notYours, new Forbidden({ detail: "Недостаточно прав для удаления этого бронирования" }))
      assert.strictEqual((yield* raw("DELETE", `/bookings/${booking!.id}`)).status, 401)
      assert.strictEqual((yield* raw("PUT", `/bookings/${booking!.id}`, { token: owner.token, body: {} })).status, 405)

      const full = yield* Effect.flip(other.api.bookings.create({ payload: stay(room.id, 3, 5), headers: {} }))
      assert.strictEqual(full._tag, "RoomUnavailable")
      assert.deepStrictEqual(yield* owner.api.bookings.delete({ path: { booking_id: booking!.id } }), {
        status: "OK"
      })
      const again = yield* Effect.flip(owner.api.bookings.delete({ path: { booking_id: booking!.id } }))
      assert.strictEqual(detailOf(again), "Бронирование не найдено")
      // the freed nights sell again
      yield* other.api.bookings.create({ payload: stay(room.id, 3, 5), headers: {} })
      const [othersBooking] = yield* other.api.bookings.mine({ urlParams: {} })
      yield* admin.api.bookings.delete({ path: { booking_id: othersBooking!.id } })
      assert.deepStrictEqual(
        (yield* soldByNight(room.id)).map((n) => n.sold),
        [0, 0, 0]
      )
      yield* assertInventoryClean
    })
  )

  it.effect("a room's quantity moves the capacity of its future nights; below what is sold → 409 (D2)", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 2 })
      const admin = yield* newUser("admin")
      const a = yield* newUser()
      const b = yield* newUser()
      yield* a.api.bookings.create({ payload: stay(room.id, 5, 7), headers: {} })
      yield* b.api.bookings.create({ payload: stay(room.id, 6, 8), headers: {} })
      const path = `/hotels/${room.hotelId}/rooms/${room.id}`

      const lowered = yield* raw("PATCH", path, { token: admin.token, body: { quantity: 1 } })
      assert.strictEqual(lowered.status, 409)
      assert.deepInclude(lowered.body as object, {
        status: 409,
        detail: "Нельзя уменьшить количество номеров: на некоторые даты уже забронировано больше"
      })
      const replaced = yield* raw("PUT", path, { token: admin.token, body: { title: "Люкс", price: 10, quantity: 0 } })
      assert.strictEqual(replaced.status, 409)
      const sql = yield* SqlClient.SqlClient
      const [kept] = yield* sql<{
        quantity: number
        title: string
      }>`SELECT quantity, title FROM rooms WHERE id = ${room.id}`
      assert.deepStrictEqual(kept, { quantity: 2, title: kept!.title })
      assert.notStrictEqual(kept!.title, "Люкс")

      // raising sells more; lowering back to exactly what is sold is allowed
      assert.strictEqual((yield* raw("PATCH", path, { token: admin.token, body: { quantity: 3 } })).status, 200)
      assert.isTrue((yield* soldByNight(room.id)).every((n) => n.capacity === 3))
      yield* (yield* newUser()).api.bookings.create({ payload: stay(room.id, 6, 7), headers: {} })
      assert.strictEqual((yield* raw("PATCH", path, { token: admin.token, body: { quantity: 2 } })).status, 409)
      const full = yield* Effect.flip(a.api.bookings.create({ payload: stay(room.id, 6, 7), headers: {} }))
      assert.strictEqual(full._tag, "RoomUnavailable")
      assert.strictEqual((yield* raw("PATCH", path, { token: admin.token, body: { quantity: 3 } })).status, 200)

      // a past night keeps its capacity (history), the future ones follow
      yield* sql`INSERT INTO room_nights (room_id, night, capacity, sold) VALUES (${room.id}, ${day(-3)}, 3, 0)`
      assert.strictEqual((yield* raw("PATCH", path, { token: admin.token, body: { quantity: 4 } })).status, 200)
      assert.deepStrictEqual(
        (yield* soldByNight(room.id)).map((n) => [n.night, n.capacity]),
        [
          [day(-3), 3],
          [day(5), 4],
          [day(6), 4],
          [day(7), 4]
        ]
      )
      yield* assertInventoryClean
    })
  )

  it.effect("deleting a room, a hotel or a user cascades and keeps the inventory equal to the bookings", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const admin = yield* newUser("admin")
      const room = yield* insertRoom({ quantity: 2 })
      const shared = yield* insertRoom({ quantity: 2 })
      const leaving = yield* newUser()
      const staying = yield* newUser()
      yield* leaving.api.bookings.create({ payload: stay(room.id, 1, 3), headers: {} })
      yield* leaving.api.bookings.create({ payload: stay(shared.id, 1, 3), headers: {} })
      yield* staying.api.bookings.create({ payload: stay(shared.id, 2, 4), headers: {} })

      assert.strictEqual((yield* raw("DELETE", `/users/${leaving.id}`, { token: admin.token })).status, 200)
      assert.deepStrictEqual(
        (yield* soldByNight(shared.id)).map((n) => [n.night, n.sold]),
        [
          [day(1), 0],
          [day(2), 1],
          [day(3), 1]
        ]
      )
      yield* assertInventoryClean

      yield* staying.api.bookings.create({ payload: stay(room.id, 1, 3), headers: {} })
      const roomPath = `/hotels/${room.hotelId}/rooms/${room.id}`
      assert.strictEqual((yield* raw("DELETE", roomPath, { token: admin.token })).status, 200)
      assert.deepStrictEqual(yield* soldByNight(room.id), [])
      assert.strictEqual((yield* raw("DELETE", `/hotels/${shared.hotelId}`, { token: admin.token })).status, 200)
      assert.deepStrictEqual(yield* soldByNight(shared.id), [])
      const [left] = yield* sql<{ n: number }>`
        SELECT count(*)::int AS n FROM bookings WHERE room_id IN (${room.id}, ${shared.id})`
      assert.strictEqual(left!.n, 0)
      yield* assertInventoryClean
    })
  )
})

/**
 * Holds over HTTP on the real PostgreSQL (docs/api.md §8.9, docs/data.md BR-13): place, read, confirm,
 * release, expire, the per-user cap, the stay limits, `Idempotency-Key`, and held units counted as taken
 * by bookings and both availability searches; the inventory equals the bookings and active holds after each.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { InProcessHoldSweepLive } from "../src/Holds/HoldSweepInProcess.js"
import { Metrics } from "../src/Metrics.js"
import { assertInventoryClean, countBookings, day, insertRoom, newUser, raw } from "./BookingsFixtures.js"
import { TestServer } from "./support.js"

const stay = (roomId: number, from: number, to: number) => ({ room_id: roomId, date_from: day(from), date_to: day(to) })

interface Answer {
  readonly status: number
  readonly text: string
  readonly body: Record<string, unknown>
  readonly headers: Record<string, string>
}

/** A request with its answer's headers and JSON body. */
const send = (
  method: "GET" | "POST" | "DELETE",
  path: string,
  token: string,
  body?: unknown,
  headers: Record<string, string> = {}
) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    let request = HttpClientRequest.make(method)(path).pipe(
      HttpClientRequest.setHeaders(headers),
      HttpClientRequest.bearerToken(token)
    )
    if (body !== undefined) request = HttpClientRequest.bodyUnsafeJson(request, body)
    const response = yield* http.execute(request)
    const text = yield* response.text
    return {
      status: response.status,
      text,
      body: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown>,
      headers: response.headers
    } satisfies Answer
  }).pipe(Effect.scoped, Effect.orDie)

const expire = (holdId: unknown) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = ${Number(holdId)}`.pipe(Effect.orDie)
  )

/** (sold, held) per night of the room, from the inventory. */
const taken = (roomId: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ night: string; sold: number; held: number }>`
      SELECT night, sold, held FROM room_nights WHERE room_id = ${roomId} ORDER BY night`.pipe(
      Effect.map((rows) => rows.map((r) => [r.night, r.sold, r.held])),
      Effect.orDie
    )
  )

const counter = (name: "holdsCreated" | "holdsConfirmed" | "holdsReleased" | "holdsExpired") =>
  Effect.flatMap(Metrics, ({ counters }) =>
    Effect.promise(async () => (await counters[name].get()).values[0]?.value ?? 0)
  )

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("holds (docs/api.md §8.9)", (it) => {
  it.effect(
    "POST /holds: 201, Location, the hold (active, price, expires_at = now + HOLD_TTL_SECONDS); units held",
    () =>
      Effect.gen(function* () {
        const room = yield* insertRoom({ quantity: 2, price: 3000 })
        const user = yield* newUser()
        const created = yield* counter("holdsCreated")
        const before = Date.now()
        const answer = yield* send("POST", "/holds", user.token, stay(room.id, 5, 8))
        assert.strictEqual(answer.status, 201, JSON.stringify(answer.body))
        assert.strictEqual(answer.headers["location"], `/holds/${answer.body["id"]}`)
        assert.deepInclude(answer.body, {
          room_id: room.id,
          user_id: user.id,
          date_from: day(5),
          date_to: day(8),
          price: 9000,
          status: "active",
          booking_id: null
        })
        const expiresIn = Date.parse(String(answer.body["expires_at"])) - before
        assert.isTrue(expiresIn > 595_000 && expiresIn < 605_000, `expires in ${expiresIn} ms`)
        assert.match(String(answer.body["created_at"]), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$/)
        assert.deepStrictEqual(
          yield* taken(room.id),
          [5, 6, 7].map((d) => [day(d), 0, 1])
        )
        assert.strictEqual(yield* counter("holdsCreated"), created + 1)
        // read back through Location, by its owner
        const read = yield* send("GET", answer.headers["location"]!, user.token)
        assert.strictEqual(read.status, 200)
        assert.deepStrictEqual(read.body, answer.body)
        yield* assertInventoryClean
      })
  )

  it.effect("GET /holds/{id}: owner and admin read it; another user gets the 404 of a missing one", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1 })
      const owner = yield* newUser()
      const other = yield* newUser()
      const admin = yield* newUser("admin")
      const hold = yield* send("POST", "/holds", owner.token, stay(room.id, 2, 3))
      const path = `/holds/${hold.body["id"]}`
      assert.strictEqual((yield* send("GET", path, admin.token)).status, 200)
      const foreign = yield* send("GET", path, other.token)
      assert.strictEqual(foreign.status, 404)
      assert.deepStrictEqual(foreign.body, {
        type: "/problems/not-found",
        title: "Not Found",
        status: 404,
        detail: "Удержание не найдено"
      })
      assert.strictEqual((yield* send("GET", "/holds/2147483647", owner.token)).status, 404)
      assert.strictEqual((yield* send("POST", `${path}/confirm`, other.token)).status, 404)
      assert.strictEqual((yield* send("DELETE", path, other.token)).status, 404)
      assert.strictEqual((yield* send("GET", "/holds/abc", owner.token)).status, 422)
    })
  )

  it.effect(
    "confirm: the hold becomes a booking at its price, its units stay held (BR-13); a retry answers it again",
    () =>
      Effect.gen(function* () {
        const room = yield* insertRoom({ quantity: 1, price: 700 })
        const user = yield* newUser()
        const confirmed = yield* counter("holdsConfirmed")
        const hold = yield* send("POST", "/holds", user.token, stay(room.id, 3, 5))
        // the price is the hold's, whatever the room costs by the confirm
        yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`UPDATE rooms SET price = 999 WHERE id = ${room.id}`)
        const booking = yield* send("POST", `/holds/${hold.body["id"]}/confirm`, user.token)
        assert.strictEqual(booking.status, 200, JSON.stringify(booking.body))
        assert.strictEqual(booking.headers["location"], `/bookings/${booking.body["id"]}`)
        assert.deepInclude(booking.body, {
          room_id: room.id,
          user_id: user.id,
          date_from: day(3),
          date_to: day(5),
          price: 1400
        })
        // the booking carries the hold's units: still counted in held, no night written by the confirm
        assert.deepStrictEqual(
          yield* taken(room.id),
          [3, 4].map((d) => [day(d), 0, 1])
        )
        yield* assertInventoryClean
        assert.strictEqual(yield* counter("holdsConfirmed"), confirmed + 1)
        const read = yield* send("GET", `/holds/${hold.body["id"]}`, user.token)
        assert.deepInclude(read.body, { status: "confirmed", booking_id: booking.body["id"] })
        // a retry: the same booking, nothing new
        const again = yield* send("POST", `/holds/${hold.body["id"]}/confirm`, user.token)
        assert.strictEqual(again.status, 200)
        assert.deepStrictEqual(again.body, booking.body)
        assert.strictEqual(yield* countBookings(room.id), 1)
        assert.strictEqual(yield* counter("holdsConfirmed"), confirmed + 1)
        // a confirmed hold cannot be released
        const release = yield* send("DELETE", `/holds/${hold.body["id"]}`, user.token)
        assert.strictEqual(release.status, 409)
        assert.strictEqual(release.body["type"], "/problems/hold-not-active")
        // its booking cancelled: the hold's confirm no longer has a booking to answer
        yield* raw("DELETE", `/bookings/${booking.body["id"]}`, { token: user.token })
        const gone = yield* send("POST", `/holds/${hold.body["id"]}/confirm`, user.token)
        assert.strictEqual(gone.status, 404)
        assert.strictEqual(gone.body["detail"], "Бронирование не найдено")
        assert.deepStrictEqual(
          yield* taken(room.id),
          [3, 4].map((d) => [day(d), 0, 0])
        )
        yield* assertInventoryClean
      })
  )

  it.effect(
    "a booking made from a hold: change-dates moves its units, a full night refuses it, cancel frees them",
    () =>
      Effect.gen(function* () {
        const room = yield* insertRoom({ quantity: 2, price: 100 })
        const user = yield* newUser()
        const other = yield* newUser()
        const hold = yield* send("POST", "/holds", user.token, stay(room.id, 3, 5))
        const booking = yield* send("POST", `/holds/${hold.body["id"]}/confirm`, user.token)
        assert.strictEqual(booking.status, 200)
        const id = booking.body["id"]
        assert.strictEqual(
          (yield* raw("POST", "/bookings", { token: other.token, body: stay(room.id, 4, 6) })).status,
          200
        )
        assert.deepStrictEqual(yield* taken(room.id), [
          [day(3), 0, 1],
          [day(4), 1, 1],
          [day(5), 1, 0]
        ])
        const moved = yield* send("POST", `/bookings/${id}/change-dates`, user.token, {
          date_from: day(5),
          date_to: day(7)
        })
        assert.strictEqual(moved.status, 200, JSON.stringify(moved.body))
        assert.deepInclude(moved.body, { id, date_from: day(5), date_to: day(7), price: 200 })
        assert.deepStrictEqual(yield* taken(room.id), [
          [day(3), 0, 0],
          [day(4), 1, 0],
          [day(5), 1, 1],
          [day(6), 0, 1]
        ])
        yield* assertInventoryClean
        // night 8 full (a direct booking and a hold): the move is refused and nothing changes
        assert.strictEqual(
          (yield* raw("POST", "/bookings", { token: other.token, body: stay(room.id, 8, 9) })).status,
          200
        )
        assert.strictEqual((yield* send("POST", "/holds", other.token, stay(room.id, 8, 9))).status, 201)
        const refused = yield* send("POST", `/bookings/${id}/change-dates`, user.token, {
          date_from: day(7),
          date_to: day(9)
        })
        assert.strictEqual(refused.status, 409)
        // (the refused move left an empty row for night 7, as any change of dates creates its new nights' rows)
        assert.deepStrictEqual(yield* taken(room.id), [
          [day(3), 0, 0],
          [day(4), 1, 0],
          [day(5), 1, 1],
          [day(6), 0, 1],
          [day(7), 0, 0],
          [day(8), 1, 1]
        ])
        const cancelled = yield* send("POST", `/bookings/${id}/cancel`, user.token)
        assert.strictEqual(cancelled.status, 200)
        assert.deepStrictEqual(yield* taken(room.id), [
          [day(3), 0, 0],
          [day(4), 1, 0],
          [day(5), 1, 0],
          [day(6), 0, 0],
          [day(7), 0, 0],
          [day(8), 1, 1]
        ])
        // its units are free again: two more stays fit where it was
        for (const token of [user.token, other.token]) {
          assert.strictEqual((yield* raw("POST", "/bookings", { token, body: stay(room.id, 6, 7) })).status, 200)
        }
        yield* assertInventoryClean
      })
  )

  it.effect("an admin confirms anyone's hold: the booking is the hold's owner's", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1 })
      const user = yield* newUser()
      const admin = yield* newUser("admin")
      const hold = yield* send("POST", "/holds", user.token, stay(room.id, 1, 2))
      const booking = yield* send("POST", `/holds/${hold.body["id"]}/confirm`, admin.token)
      assert.strictEqual(booking.status, 200)
      assert.strictEqual(booking.body["user_id"], user.id)
    })
  )

  it.effect(
    "DELETE /holds/{id} releases the units at once; again answers it unchanged; a released one cannot be confirmed",
    () =>
      Effect.gen(function* () {
        const room = yield* insertRoom({ quantity: 1 })
        const user = yield* newUser()
        const other = yield* newUser()
        const released = yield* counter("holdsReleased")
        const hold = yield* send("POST", "/holds", user.token, stay(room.id, 4, 6))
        // sold out for anyone else while held
        const refused = yield* raw("POST", "/bookings", { token: other.token, body: stay(room.id, 5, 6) })
        assert.strictEqual(refused.status, 409)
        const release = yield* send("DELETE", `/holds/${hold.body["id"]}`, user.token)
        assert.strictEqual(release.status, 200)
        assert.strictEqual(release.body["status"], "released")
        assert.strictEqual(yield* counter("holdsReleased"), released + 1)
        assert.deepStrictEqual(
          yield* taken(room.id),
          [4, 5].map((d) => [day(d), 0, 0])
        )
        const again = yield* send("DELETE", `/holds/${hold.body["id"]}`, user.token)
        assert.strictEqual(again.status, 200)
        assert.strictEqual(again.body["status"], "released")
        assert.strictEqual(yield* counter("holdsReleased"), released + 1)
        const confirm = yield* send("POST", `/holds/${hold.body["id"]}/confirm`, user.token)
        assert.strictEqual(confirm.status, 409)
        assert.deepStrictEqual(confirm.body, {
          type: "/problems/hold-not-active",
          title: "Hold not active",
          status: 409,
          detail: "Удержание уже подтверждено или отменено"
        })
        const booked = yield* raw("POST", "/bookings", { token: other.token, body: stay(room.id, 5, 6) })
        assert.strictEqual(booked.status, 200)
        yield* assertInventoryClean
      })
  )

  it.effect("an expired hold: confirm is 410 hold-expired and frees its units; GET reads expired", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1 })
      const user = yield* newUser()
      const expired = yield* counter("holdsExpired")
      const hold = yield* send("POST", "/holds", user.token, stay(room.id, 2, 4))
      yield* expire(hold.body["id"])
      // before anything records the expiry, it already reads expired
      assert.strictEqual((yield* send("GET", `/holds/${hold.body["id"]}`, user.token)).body["status"], "expired")
      const confirm = yield* send("POST", `/holds/${hold.body["id"]}/confirm`, user.token)
      assert.strictEqual(confirm.status, 410)
      assert.deepStrictEqual(confirm.body, {
        type: "/problems/hold-expired",
        title: "Hold expired",
        status: 410,
        detail: "Срок удержания истёк, номер освобождён"
      })
      assert.strictEqual(yield* counter("holdsExpired"), expired + 1)
      assert.deepStrictEqual(
        yield* taken(room.id),
        [2, 3].map((d) => [day(d), 0, 0])
      )
      assert.strictEqual((yield* send("POST", `/holds/${hold.body["id"]}/confirm`, user.token)).status, 410)
      assert.strictEqual(yield* countBookings(room.id), 0)
      // releasing it answers it as it is
      const release = yield* send("DELETE", `/holds/${hold.body["id"]}`, user.token)
      assert.strictEqual(release.status, 200)
      assert.strictEqual(release.body["status"], "expired")
      yield* assertInventoryClean
    })
  )

  it.effect("an expired hold blocks no other hold and no search, even before the sweep", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1 })
      const first = yield* newUser()
      const second = yield* newUser()
      const hold = yield* send("POST", "/holds", first.token, stay(room.id, 3, 6))
      const search = `/hotels/${room.hotelId}/rooms/available?date_from=${day(4)}&date_to=${day(5)}`
      const free = (answer: Answer) =>
        (answer.body as unknown as Array<{ id: number; quantity: number }>).find((r) => r.id === room.id)?.quantity ?? 0
      assert.strictEqual(free(yield* send("GET", search, first.token)), 0)
      assert.strictEqual((yield* send("POST", "/holds", second.token, stay(room.id, 5, 7))).status, 409)
      yield* expire(hold.body["id"])
      assert.strictEqual(free(yield* send("GET", search, first.token)), 1)
      const next = yield* send("POST", "/holds", second.token, stay(room.id, 5, 7))
      assert.strictEqual(next.status, 201, JSON.stringify(next.body))
      assert.strictEqual((yield* send("GET", `/holds/${hold.body["id"]}`, first.token)).body["status"], "expired")
      yield* assertInventoryClean
    })
  )

  it.effect("held units are taken: bookings and both availability searches see them", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 2 })
      const users = yield* Effect.all([newUser(), newUser(), newUser()])
      yield* send("POST", "/holds", users[0].token, stay(room.id, 10, 12))
      const booked = yield* raw("POST", "/bookings", { token: users[1].token, body: stay(room.id, 11, 13) })
      assert.strictEqual(booked.status, 200)
      const refused = yield* raw("POST", "/bookings", { token: users[2].token, body: stay(room.id, 11, 12) })
      assert.strictEqual(refused.status, 409)
      const rooms = yield* send(
        "GET",
        `/hotels/${room.hotelId}/rooms/available?date_from=${day(10)}&date_to=${day(11)}`,
        users[2].token
      )
      // the search answers each free room type with its free units as `quantity`
      assert.strictEqual((rooms.body as unknown as Array<{ quantity: number }>)[0]?.quantity, 1)
      const full = yield* send(
        "GET",
        `/hotels/${room.hotelId}/rooms/available?date_from=${day(11)}&date_to=${day(12)}`,
        users[2].token
      )
      assert.deepStrictEqual(full.body, [] as unknown)
      const hotels = yield* send(
        "GET",
        `/hotels/rooms/available?hotel_id=${room.hotelId}&date_from=${day(11)}&date_to=${day(12)}`,
        users[2].token
      )
      assert.strictEqual(hotels.status, 200)
      // the hotel is listed without free rooms
      assert.deepStrictEqual(
        (hotels.body as unknown as Array<{ id: number; rooms: Array<unknown> }>).map((h) => [h.id, h.rooms.length]),
        [[room.hotelId, 0]]
      )
      const free = yield* send(
        "GET",
        `/hotels/rooms/available?hotel_id=${room.hotelId}&date_from=${day(10)}&date_to=${day(11)}`,
        users[2].token
      )
      assert.deepStrictEqual(
        (free.body as unknown as Array<{ rooms: Array<{ quantity: number }> }>)[0]?.rooms.map((r) => r.quantity),
        [1]
      )
      yield* assertInventoryClean
    })
  )

  it.effect("POST /holds order: unknown room 404, reversed 400, past 400, sold out 409; limits 422", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1 })
      const user = yield* newUser()
      const unknown = yield* send("POST", "/holds", user.token, stay(2147483647, -3, -5))
      assert.strictEqual(unknown.status, 404)
      assert.strictEqual(unknown.body["detail"], "Номер с ID 2147483647 не найден")
      const reversed = yield* send("POST", "/holds", user.token, stay(room.id, 5, 5))
      assert.strictEqual(reversed.status, 400)
      assert.strictEqual(reversed.body["detail"], "Дата заезда должна быть раньше даты выезда")
      const past = yield* send("POST", "/holds", user.token, stay(room.id, -1, 2))
      assert.strictEqual(past.status, 400)
      assert.strictEqual(past.body["detail"], "Дата заезда не может быть в прошлом")
      const long = yield* send("POST", "/holds", user.token, stay(room.id, 1, 200))
      assert.strictEqual(long.status, 422)
      assert.include(JSON.stringify(long.body), "MAX_STAY_NIGHTS")
      const far = yield* send("POST", "/holds", user.token, stay(room.id, 800, 801))
      assert.strictEqual(far.status, 422)
      assert.include(JSON.stringify(far.body), "BOOKING_HORIZON_DAYS")
      assert.strictEqual((yield* send("POST", "/holds", user.token, { room_id: room.id })).status, 422)
      yield* raw("POST", "/bookings", { token: user.token, body: stay(room.id, 1, 2) })
      const soldOut = yield* send("POST", "/holds", user.token, stay(room.id, 1, 3))
      assert.strictEqual(soldOut.status, 409)
      assert.strictEqual(soldOut.body["type"], "/problems/room-unavailable")
      // answered by the handler (HoldsHttp.ts), byte for byte what HttpApi encodes for the booking's same refusal
      const bookingSoldOut = yield* send("POST", "/bookings", user.token, stay(room.id, 1, 3))
      assert.strictEqual(bookingSoldOut.status, 409)
      assert.strictEqual(soldOut.text, bookingSoldOut.text)
      const sameHeaders = (headers: Record<string, string>) =>
        Object.entries(headers).filter(([name]) => name !== "x-request-id" && name !== "date")
      assert.deepStrictEqual(sameHeaders(soldOut.headers), sameHeaders(bookingSoldOut.headers))
      assert.strictEqual(soldOut.headers["content-type"], "application/problem+json")
      assert.deepStrictEqual(soldOut.body, {
        type: "/problems/room-unavailable",
        title: "Room unavailable",
        status: 409,
        detail: "Все номера данного типа уже забронированы на указанные даты"
      })
      // with a key too (the key is not kept)
      const keyed = yield* send("POST", "/holds", user.token, stay(room.id, 1, 3), { "idempotency-key": "sold-1" })
      assert.strictEqual(keyed.text, bookingSoldOut.text)
      const anonymous = yield* raw("POST", "/holds", { body: stay(room.id, 1, 3) })
      assert.strictEqual(anonymous.status, 401)
      const [{ n } = { n: -1 }] = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql<{ n: number }>`SELECT count(*)::int AS n FROM holds WHERE room_id = ${room.id}`.pipe(Effect.orDie)
      )
      assert.strictEqual(n, 0)
      yield* assertInventoryClean
    })
  )

  it.effect("MAX_ACTIVE_HOLDS_PER_USER (5): the sixth active hold is 409 too-many-holds; one released makes room", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 10 })
      const user = yield* newUser()
      const holds = []
      for (let i = 0; i < 5; i++) holds.push(yield* send("POST", "/holds", user.token, stay(room.id, 1 + i, 2 + i)))
      assert.isTrue(holds.every((h) => h.status === 201))
      const sixth = yield* send("POST", "/holds", user.token, stay(room.id, 1, 2))
      assert.strictEqual(sixth.status, 409)
      assert.deepStrictEqual(sixth.body, {
        type: "/problems/too-many-holds",
        title: "Too many holds",
        status: 409,
        detail: "Слишком много активных удержаний: не более 5 одновременно"
      })
      // an expired one does not count, nor does a released or confirmed one
      yield* expire(holds[0]!.body["id"])
      assert.strictEqual((yield* send("POST", "/holds", user.token, stay(room.id, 1, 2))).status, 201)
      yield* send("DELETE", `/holds/${holds[1]!.body["id"]}`, user.token)
      assert.strictEqual((yield* send("POST", "/holds", user.token, stay(room.id, 1, 2))).status, 201)
      assert.strictEqual((yield* send("POST", "/holds", user.token, stay(room.id, 1, 2))).status, 409)
      // other users have their own cap
      const other = yield* newUser()
      assert.strictEqual((yield* send("POST", "/holds", other.token, stay(room.id, 1, 2))).status, 201)
      yield* assertInventoryClean
    })
  )

  it.effect("the cap is exact under concurrency: 20 simultaneous holds of one user, 5 placed", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 50 })
      const user = yield* newUser()
      const answers = yield* Effect.all(
        Array.from({ length: 20 }, () => send("POST", "/holds", user.token, stay(room.id, 1, 3))),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(answers.filter((a) => a.status === 201).length, 5)
      assert.strictEqual(answers.filter((a) => a.status === 409).length, 15)
      yield* assertInventoryClean
    })
  )

  it.effect("Idempotency-Key: a retry answers the first hold and holds nothing new; another body is a 422", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 3 })
      const user = yield* newUser()
      const key = { "idempotency-key": `hold-${room.id}` }
      const first = yield* send("POST", "/holds", user.token, stay(room.id, 1, 3), key)
      assert.strictEqual(first.status, 201)
      const again = yield* send("POST", "/holds", user.token, stay(room.id, 1, 3), key)
      assert.strictEqual(again.status, 201)
      assert.deepStrictEqual(again.body, first.body)
      assert.strictEqual(again.headers["location"], first.headers["location"])
      const other = yield* send("POST", "/holds", user.token, stay(room.id, 1, 4), key)
      assert.strictEqual(other.status, 422)
      // the same key and body on POST /bookings is another request
      const booking = yield* raw("POST", "/bookings", { token: user.token, body: stay(room.id, 1, 3), headers: key })
      assert.strictEqual(booking.status, 422)
      assert.deepStrictEqual(
        yield* taken(room.id),
        [1, 2].map((d) => [day(d), 0, 1])
      )
      // a refused hold remembers nothing: the same key works once the room is free
      const full = yield* insertRoom({ quantity: 1 })
      yield* raw("POST", "/bookings", { token: user.token, body: stay(full.id, 1, 2) })
      const retryKey = { "idempotency-key": `hold-full-${full.id}` }
      assert.strictEqual((yield* send("POST", "/holds", user.token, stay(full.id, 1, 2), retryKey)).status, 409)
      yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DELETE FROM bookings WHERE room_id = ${full.id}`)
      assert.strictEqual((yield* send("POST", "/holds", user.token, stay(full.id, 1, 2), retryKey)).status, 201)
      // a retry after the hold expired answers it as it is now: expired, not active
      const lapseRoom = yield* insertRoom({ quantity: 1 })
      const lapsing = yield* send("POST", "/holds", user.token, stay(lapseRoom.id, 5, 6), {
        "idempotency-key": `lapse-${lapseRoom.id}`
      })
      yield* expire(lapsing.body["id"])
      const late = yield* send("POST", "/holds", user.token, stay(lapseRoom.id, 5, 6), {
        "idempotency-key": `lapse-${lapseRoom.id}`
      })
      assert.strictEqual(late.status, 201)
      assert.strictEqual(late.body["id"], lapsing.body["id"])
      assert.strictEqual(late.body["status"], "expired")
      yield* assertInventoryClean
    })
  )

  it.effect("a user or a room deleted takes their holds' units with them; a quantity below held is refused", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const room = yield* insertRoom({ quantity: 2 })
      const user = yield* newUser()
      const admin = yield* newUser("admin")
      yield* send("POST", "/holds", user.token, stay(room.id, 1, 3))
      const other = yield* newUser()
      yield* send("POST", "/holds", other.token, stay(room.id, 2, 4))
      const lowered = yield* raw("PATCH", `/hotels/${room.hotelId}/rooms/${room.id}`, {
        token: admin.token,
        body: { quantity: 0 }
      })
      assert.strictEqual(lowered.status, 409)
      assert.strictEqual((yield* raw("DELETE", `/users/${user.id}`, { token: admin.token })).status, 200)
      assert.deepStrictEqual(yield* taken(room.id), [
        [day(1), 0, 0],
        [day(2), 0, 1],
        [day(3), 0, 1]
      ])
      yield* assertInventoryClean
      yield* sql`DELETE FROM rooms WHERE id = ${room.id}`
      const [{ n } = { n: -1 }] = yield* sql<{
        n: number
      }>`SELECT count(*)::int AS n FROM holds WHERE room_id = ${room.id}`
      assert.strictEqual(n, 0)
      yield* assertInventoryClean
    })
  )

  it.scoped("the server's in-process sweep (no worker) expires a hold past its time and counts it", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1 })
      const user = yield* newUser()
      const hold = yield* send("POST", "/holds", user.token, stay(room.id, 6, 8))
      yield* expire(hold.body["id"])
      const before = yield* counter("holdsExpired")
      // its first sweep runs at once
      yield* Layer.build(InProcessHoldSweepLive)
      for (let i = 0; i < 50 && (yield* taken(room.id)).some(([, , held]) => held !== 0); i++) {
        yield* Effect.sleep("100 millis")
      }
      assert.deepStrictEqual(
        yield* taken(room.id),
        [6, 7].map((d) => [day(d), 0, 0])
      )
      const [{ status } = { status: "" }] = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql<{ status: string }>`SELECT status FROM holds WHERE id = ${Number(hold.body["id"])}`.pipe(Effect.orDie)
      )
      assert.strictEqual(status, "expired")
      assert.isAtLeast(yield* counter("holdsExpired"), before + 1)
      yield* assertInventoryClean
    })
  )
})

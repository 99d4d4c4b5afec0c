/**
 * docs/decisions.md D16: a catalogue delete reports what its cascade takes with it, in its own transaction —
 * a hotel's rooms (`room.deleted`), the confirmed bookings of the rooms deleted (`booking.cancelled`) and
 * their active holds (`hold.released`, or `hold.expired` past their expiry), each with the `reason`; rows
 * already cancelled, released or confirmed write nothing more. A hotel of many rooms: one event per row,
 * written by the delete's statement. A user's deletion reports their bookings and holds the same way.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Schedule } from "effect"
import { day, insertRoom, newUser, raw } from "./BookingsFixtures.js"
import { eventsAfter, lastEvent } from "./OutboxFixtures.js"
import { makeTestServer } from "./support.js"

/** In a room: a confirmed booking, a cancelled one, an active hold, an active hold past expiry, a released one. */
const stays = (roomId: number, token: string, offset: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const post = (path: string, body: unknown, status: number) =>
      Effect.map(raw("POST", path, { token, body }), (answer) => {
        assert.strictEqual(answer.status, status, JSON.stringify(answer.body))
        return (answer.body as { id: number }).id
      })
    const nights = (n: number) => ({ room_id: roomId, date_from: day(offset + n), date_to: day(offset + n + 1) })
    const confirmed = yield* post("/bookings", nights(0), 200)
    const cancelled = yield* post("/bookings", nights(1), 200)
    assert.strictEqual((yield* raw("POST", `/bookings/${cancelled}/cancel`, { token })).status, 200)
    const active = yield* post("/holds", nights(2), 201)
    const lapsed = yield* post("/holds", nights(3), 201)
    yield* sql`UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = ${lapsed}`.pipe(Effect.orDie)
    const released = yield* post("/holds", nights(4), 201)
    assert.strictEqual((yield* raw("DELETE", `/holds/${released}`, { token })).status, 200)
    return { confirmed, active, lapsed }
  })

layer(makeTestServer(), { excludeTestServices: true, timeout: "60 seconds" })("outbox events of cascades", (it) => {
  it.effect("deleting a hotel: room.deleted for each room, and its rooms' bookings and holds reported", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const admin = yield* newUser("admin")
      const user = yield* newUser()
      const first = yield* insertRoom({ quantity: 3 })
      const hotelId = first.hotelId
      const [second] = yield* sql<{ id: number }>`
        INSERT INTO rooms (hotel_id, title, price, quantity) VALUES (${hotelId}, 'Второй', 800, 2) RETURNING id`.pipe(
        Effect.orDie
      )
      const a = yield* stays(first.id, user.token, 10)
      const b = yield* stays(second!.id, user.token, 20)
      const mark = yield* lastEvent
      assert.strictEqual((yield* raw("DELETE", `/hotels/${hotelId}`, { token: admin.token })).status, 200)
      const events = yield* eventsAfter(mark)
      const reason = "hotel_deleted"
      assert.sameDeepMembers(
        events.map((e) => [e.type, e.entity, e.hotel_id, e.data["reason"] ?? null]),
        [
          ["room.deleted", `room:${first.id}`, hotelId, reason],
          ["room.deleted", `room:${second!.id}`, hotelId, reason],
          ["booking.cancelled", `booking:${a.confirmed}`, hotelId, reason],
          ["booking.cancelled", `booking:${b.confirmed}`, hotelId, reason],
          ["hold.released", `hold:${a.active}`, hotelId, reason],
          ["hold.released", `hold:${b.active}`, hotelId, reason],
          ["hold.expired", `hold:${a.lapsed}`, hotelId, reason],
          ["hold.expired", `hold:${b.lapsed}`, hotelId, reason],
          ["hotel.deleted", `hotel:${hotelId}`, hotelId, null]
        ]
      )
      assert.strictEqual(events.at(-1)!.type, "hotel.deleted")
      const booking = events.find((e) => e.entity === `booking:${a.confirmed}`)!
      assert.deepInclude(booking.data, {
        id: a.confirmed,
        room_id: first.id,
        user_id: user.id,
        date_from: day(10),
        date_to: day(11),
        status: "cancelled"
      })
      const hold = events.find((e) => e.entity === `hold:${b.active}`)!
      assert.deepInclude(hold.data, { id: b.active, room_id: second!.id, status: "released", date_from: day(22) })
      // and they are gone
      const left = yield* sql<{ n: number }>`
        SELECT (SELECT count(*) FROM rooms WHERE hotel_id = ${hotelId})
             + (SELECT count(*) FROM bookings WHERE id IN (${a.confirmed}, ${b.confirmed}))
             + (SELECT count(*) FROM holds WHERE id IN (${a.active}, ${b.active}))::int AS n`.pipe(Effect.orDie)
      assert.strictEqual(Number(left[0]!.n), 0)
    })
  )

  it.effect("deleting a room: its confirmed booking cancelled and its active holds reported", () =>
    Effect.gen(function* () {
      const admin = yield* newUser("admin")
      const user = yield* newUser()
      const room = yield* insertRoom({ quantity: 3 })
      const s = yield* stays(room.id, user.token, 30)
      const mark = yield* lastEvent
      const path = `/hotels/${room.hotelId}/rooms/${room.id}`
      assert.strictEqual((yield* raw("DELETE", path, { token: admin.token })).status, 200)
      const events = yield* eventsAfter(mark)
      assert.sameDeepMembers(
        events.map((e) => [e.type, e.entity, e.data["reason"] ?? null]),
        [
          ["booking.cancelled", `booking:${s.confirmed}`, "room_deleted"],
          ["hold.released", `hold:${s.active}`, "room_deleted"],
          ["hold.expired", `hold:${s.lapsed}`, "room_deleted"],
          ["room.deleted", `room:${room.id}`, null]
        ]
      )
      assert.strictEqual(events.at(-1)!.type, "room.deleted")
    })
  )

  it.effect("deleting a user: their confirmed bookings cancelled and active holds reported, in any hotel", () =>
    Effect.gen(function* () {
      const admin = yield* newUser("admin")
      const user = yield* newUser()
      const room = yield* insertRoom({ quantity: 3 })
      const other = yield* insertRoom({ quantity: 3 })
      const here = yield* stays(room.id, user.token, 40)
      const there = yield* stays(other.id, user.token, 50)
      const mark = yield* lastEvent
      assert.strictEqual((yield* raw("DELETE", `/users/${user.id}`, { token: admin.token })).status, 200)
      const events = yield* eventsAfter(mark)
      assert.sameDeepMembers(
        events.map((e) => [e.type, e.entity, e.hotel_id, e.data["reason"] ?? null]),
        [
          ["booking.cancelled", `booking:${here.confirmed}`, room.hotelId, "user_deleted"],
          ["booking.cancelled", `booking:${there.confirmed}`, other.hotelId, "user_deleted"],
          ["hold.released", `hold:${here.active}`, room.hotelId, "user_deleted"],
          ["hold.released", `hold:${there.active}`, other.hotelId, "user_deleted"],
          ["hold.expired", `hold:${here.lapsed}`, room.hotelId, "user_deleted"],
          ["hold.expired", `hold:${there.lapsed}`, other.hotelId, "user_deleted"]
        ]
      )
      assert.deepInclude(events.find((e) => e.entity === `booking:${there.confirmed}`)!.data, {
        user_id: user.id,
        room_id: other.id,
        status: "cancelled"
      })
    })
  )

  it.effect("a hotel of 60 rooms: one room.deleted each, written by the delete's statement", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const admin = yield* newUser("admin")
      const room = yield* insertRoom({ quantity: 1 })
      yield* sql`INSERT INTO rooms (hotel_id, title, price, quantity)
                 SELECT ${room.hotelId}, 'Номер ' || i, 100, 1 FROM generate_series(1, 59) i`.pipe(Effect.orDie)
      const mark = yield* lastEvent
      assert.strictEqual((yield* raw("DELETE", `/hotels/${room.hotelId}`, { token: admin.token })).status, 200)
      const events = yield* eventsAfter(mark)
      assert.strictEqual(events.filter((e) => e.type === "room.deleted").length, 60)
      assert.strictEqual(events.length, 61)
    })
  )

  it.effect("a cancel committing while a room or a user is deleted: the booking reported once, by the cancel", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const admin = yield* newUser("admin")
      // the delete of `path` while a cancel of one of its bookings is under way (its transaction held open
      // with the booking locked): the delete must wait for it and then not report the booking again
      const raceCancel = (path: string, booking: number) =>
        Effect.gen(function* () {
          const locked = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          const cancel = yield* Effect.fork(
            sql`UPDATE bookings SET status = 'cancelled' WHERE id = ${booking}`.pipe(
              Effect.zipRight(Deferred.succeed(locked, undefined)),
              Effect.zipRight(Deferred.await(release)),
              sql.withTransaction,
              Effect.orDie
            )
          )
          yield* Deferred.await(locked)
          const mark = yield* lastEvent
          const remove = yield* Effect.fork(raw("DELETE", path, { token: admin.token }))
          // the delete is waiting for a row lock (the booking's), whichever statement waits for it
          yield* sql<{ waiting: boolean }>`SELECT EXISTS (SELECT 1 FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock') AS waiting`.pipe(
            Effect.orDie,
            Effect.repeat({ schedule: Schedule.spaced("5 millis"), until: (rows) => rows[0]!.waiting })
          )
          yield* Deferred.succeed(release, undefined)
          yield* Fiber.join(cancel)
          assert.strictEqual((yield* Fiber.join(remove)).status, 200)
          return yield* eventsAfter(mark)
        })

      const user = yield* newUser()
      const room = yield* insertRoom({ quantity: 3 })
      const book = (n: number, roomId: number) =>
        Effect.map(
          raw("POST", "/bookings", {
            token: user.token,
            body: { room_id: roomId, date_from: day(60 + n), date_to: day(61 + n) }
          }),
          (answer) => {
            assert.strictEqual(answer.status, 200, JSON.stringify(answer.body))
            return (answer.body as { id: number }).id
          }
        )
      const cancelled = yield* book(0, room.id)
      const kept = yield* book(1, room.id)
      const roomEvents = yield* raceCancel(`/hotels/${room.hotelId}/rooms/${room.id}`, cancelled)
      assert.sameDeepMembers(
        roomEvents.map((e) => [e.type, e.entity]),
        [
          ["booking.cancelled", `booking:${kept}`],
          ["room.deleted", `room:${room.id}`]
        ]
      )

      const other = yield* insertRoom({ quantity: 3 })
      const userCancelled = yield* book(2, other.id)
      const userKept = yield* book(3, other.id)
      const userEvents = yield* raceCancel(`/users/${user.id}`, userCancelled)
      assert.deepStrictEqual(
        userEvents.filter((e) => e.type === "booking.cancelled").map((e) => [e.entity, e.data["reason"]]),
        [[`booking:${userKept}`, "user_deleted"]]
      )
    })
  )
})

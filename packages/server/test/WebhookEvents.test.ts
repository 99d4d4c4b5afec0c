/**
 * docs/decisions.md D16: every change that matters writes its outbox event in its own transaction — booking
 * created and cancelled, hotels and rooms created, changed and deleted, a user's role changed, an image
 * processed or failed — and a refused or replayed write writes none.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { randomName } from "@shum/infra/Testing"
import { sweepExpiredHolds } from "@shum/worker/HoldSweep"
import { ImageRows } from "@shum/worker/ImageRows"
import { Effect, Layer } from "effect"
import { day, insertRoom, newUser, raw } from "./BookingsFixtures.js"
import { eventsAfter, lastEvent } from "./OutboxFixtures.js"
import { makeTestServer } from "./support.js"

const TestServer = ImageRows.Default.pipe(Layer.provideMerge(makeTestServer()))

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("outbox events of the writes", (it) => {
  it.effect("booking created and cancelled; a sold-out attempt and an idempotent replay write none", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1, price: 2500 })
      const user = yield* newUser()
      const mark = yield* lastEvent
      const body = { room_id: room.id, date_from: day(10), date_to: day(12) }
      const headers = { "idempotency-key": randomName("key") }
      const booked = yield* raw("POST", "/bookings", { token: user.token, body, headers })
      assert.strictEqual(booked.status, 200, JSON.stringify(booked.body))
      const replay = yield* raw("POST", "/bookings", { token: user.token, body, headers })
      assert.strictEqual(replay.status, 200)
      const soldOut = yield* raw("POST", "/bookings", { token: (yield* newUser()).token, body })
      assert.strictEqual(soldOut.status, 409)
      const id = (booked.body as { id: number }).id
      const created = yield* eventsAfter(mark)
      assert.deepStrictEqual(
        created.map((e) => [e.type, e.entity, e.hotel_id]),
        [["booking.created", `booking:${id}`, room.hotelId]]
      )
      assert.deepInclude(created[0]!.data, {
        id,
        hotel_id: room.hotelId,
        room_id: room.id,
        user_id: user.id,
        date_from: day(10),
        date_to: day(12),
        price: 5000
      })
      const cancelled = yield* raw("DELETE", `/bookings/${id}`, { token: user.token })
      assert.strictEqual(cancelled.status, 200)
      const again = yield* raw("DELETE", `/bookings/${id}`, { token: user.token })
      assert.strictEqual(again.status, 404)
      const all = yield* eventsAfter(mark)
      assert.deepStrictEqual(
        all.map((e) => e.type),
        ["booking.created", "booking.cancelled"]
      )
      assert.deepInclude(all[1]!.data, { id, hotel_id: room.hotelId, room_id: room.id })
    })
  )

  it.effect("booking commands: dates changed, cancelled; refused, replayed or unchanged, none (BR-14)", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1, price: 1000 })
      const user = yield* newUser()
      const created = yield* raw("POST", "/bookings", {
        token: user.token,
        body: { room_id: room.id, date_from: day(20), date_to: day(22) }
      })
      const id = (created.body as { id: number }).id
      const blocker = yield* raw("POST", "/bookings", {
        token: user.token,
        body: { room_id: room.id, date_from: day(30), date_to: day(31) }
      })
      assert.strictEqual(blocker.status, 200)
      const mark = yield* lastEvent
      const change = (from: number, to: number, key: string) =>
        raw("POST", `/bookings/${id}/change-dates`, {
          token: user.token,
          body: { date_from: day(from), date_to: day(to) },
          headers: { "idempotency-key": key }
        })
      const key = randomName("move")
      assert.strictEqual((yield* change(23, 25, key)).status, 200)
      assert.strictEqual((yield* change(23, 25, key)).status, 200) // replayed
      assert.strictEqual((yield* change(23, 25, randomName("same"))).status, 200) // already there
      assert.strictEqual((yield* change(29, 31, randomName("full"))).status, 409)
      assert.strictEqual((yield* raw("POST", `/bookings/${id}/cancel`, { token: user.token })).status, 200)
      assert.strictEqual((yield* raw("POST", `/bookings/${id}/cancel`, { token: user.token })).status, 409)
      const events = yield* eventsAfter(mark)
      assert.deepStrictEqual(
        events.map((e) => [e.type, e.entity, e.hotel_id]),
        [
          ["booking.dates_changed", `booking:${id}`, room.hotelId],
          ["booking.cancelled", `booking:${id}`, room.hotelId]
        ]
      )
      assert.deepInclude(events[0]!.data, {
        id,
        date_from: day(23),
        date_to: day(25),
        price: 2000,
        status: "confirmed"
      })
      assert.deepInclude(events[1]!.data, { id, status: "cancelled" })
    })
  )

  it.effect("hotels and rooms: created, updated (the fields written), deleted; a refused write, none", () =>
    Effect.gen(function* () {
      const admin = yield* newUser("admin")
      const room = yield* insertRoom({ quantity: 2 })
      const sql = yield* SqlClient.SqlClient
      const [city] = yield* sql<{ name: string }>`SELECT name FROM cities WHERE id = ${room.cityId}`
      const mark = yield* lastEvent
      const title = randomName("Отель-")
      const hotel = yield* raw("POST", "/hotels", {
        token: admin.token,
        body: { title, city: city!.name, address: "ул. Новая, 2" }
      })
      assert.strictEqual(hotel.status, 200, JSON.stringify(hotel.body))
      const hotelId = (hotel.body as { id: number }).id
      const taken = yield* raw("POST", "/hotels", {
        token: admin.token,
        body: { title, city: city!.name, address: "x" }
      })
      assert.strictEqual(taken.status, 409)
      assert.strictEqual(
        (yield* raw("PATCH", `/hotels/${hotelId}`, { token: admin.token, body: { address: "ул. Другая, 3" } })).status,
        200
      )
      const newRoom = yield* raw("POST", `/hotels/${hotelId}/rooms`, {
        token: admin.token,
        body: { title: "Люкс", price: 9000, quantity: 3 }
      })
      assert.strictEqual(newRoom.status, 200, JSON.stringify(newRoom.body))
      const roomId = (newRoom.body as { id: number }).id
      assert.strictEqual(
        (yield* raw("PATCH", `/hotels/${hotelId}/rooms/${roomId}`, { token: admin.token, body: { price: 9500 } }))
          .status,
        200
      )
      assert.strictEqual(
        (yield* raw("DELETE", `/hotels/${hotelId}/rooms/${roomId}`, { token: admin.token })).status,
        200
      )
      assert.strictEqual((yield* raw("DELETE", `/hotels/${hotelId}`, { token: admin.token })).status, 200)
      const events = yield* eventsAfter(mark)
      assert.deepStrictEqual(
        events.map((e) => [e.type, e.entity, e.hotel_id]),
        [
          ["hotel.created", `hotel:${hotelId}`, hotelId],
          ["hotel.updated", `hotel:${hotelId}`, hotelId],
          ["room.created", `room:${roomId}`, hotelId],
          ["room.updated", `room:${roomId}`, hotelId],
          ["room.deleted", `room:${roomId}`, hotelId],
          ["hotel.deleted", `hotel:${hotelId}`, hotelId]
        ]
      )
      assert.deepInclude(events[0]!.data, { id: hotelId, title, address: "ул. Новая, 2" })
      // an update carries the before/after of the changed fields (docs/decisions.md D16, D17)
      assert.deepStrictEqual(events[1]!.data, {
        id: hotelId,
        hotel_id: hotelId,
        changes: { address: { before: "ул. Новая, 2", after: "ул. Другая, 3" } }
      })
      assert.deepInclude(events[2]!.data, { id: roomId, title: "Люкс", price: 9000, quantity: 3 })
      assert.deepStrictEqual(events[3]!.data, {
        id: roomId,
        hotel_id: hotelId,
        changes: { price: { before: 9000, after: 9500 } }
      })
    })
  )

  it.effect("a user's role changed writes user.role_changed with the previous role; other changes none", () =>
    Effect.gen(function* () {
      const admin = yield* newUser("admin")
      const user = yield* newUser()
      const mark = yield* lastEvent
      assert.strictEqual(
        (yield* raw("PATCH", `/users/${user.id}`, { token: admin.token, body: { first_name: "Анна" } })).status,
        200
      )
      assert.strictEqual(
        (yield* raw("PATCH", `/users/${user.id}`, { token: admin.token, body: { role: "user" } })).status,
        200
      )
      assert.strictEqual(
        (yield* raw("PATCH", `/users/${user.id}`, { token: admin.token, body: { role: "admin" } })).status,
        200
      )
      const events = yield* eventsAfter(mark)
      assert.deepStrictEqual(
        events.map((e) => [e.type, e.entity, e.hotel_id, e.data]),
        [["user.role_changed", `user:${user.id}`, null, { id: user.id, role: "admin", previous_role: "user" }]]
      )
    })
  )

  it.effect("an image settled by the worker: image.processed or image.failed, with its hotel; once", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* ImageRows
      const room = yield* insertRoom({ quantity: 1 })
      const image = () =>
        Effect.gen(function* () {
          const [row] = yield* sql<{ id: number }>`
            INSERT INTO images (filename, original_filename, width, height, status, stored_filename)
            VALUES ('a.jpg', 'a.jpg', 1200, 800, 'pending', 'a.jpg') RETURNING id`
          yield* sql`INSERT INTO hotels_images (hotel_id, image_id) VALUES (${room.hotelId}, ${row!.id})`
          return row!.id
        }).pipe(Effect.orDie)
      const done = yield* image()
      const failed = yield* image()
      const mark = yield* lastEvent
      assert.isTrue(yield* rows.markDone(done))
      assert.isFalse(yield* rows.markDone(done)) // settled already: no second event
      assert.isTrue(yield* rows.markFailed(failed, "broken"))
      const events = yield* eventsAfter(mark)
      assert.deepStrictEqual(
        events.map((e) => [e.type, e.entity, e.hotel_id, e.data]),
        [
          [
            "image.processed",
            `image:${done}`,
            room.hotelId,
            { id: done, hotel_id: room.hotelId, status: "done", error: null }
          ],
          [
            "image.failed",
            `image:${failed}`,
            room.hotelId,
            { id: failed, hotel_id: room.hotelId, status: "failed", error: "broken" }
          ]
        ]
      )
    })
  )

  it.effect("holds: created, confirmed (with its booking.created), released, expired at confirm and by the sweep", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const room = yield* insertRoom({ quantity: 5, price: 1000 })
      const user = yield* newUser()
      const hold = (days: number) =>
        Effect.map(
          raw("POST", "/holds", {
            token: user.token,
            body: { room_id: room.id, date_from: day(days), date_to: day(days + 1) }
          }),
          (answer) => {
            assert.strictEqual(answer.status, 201, JSON.stringify(answer.body))
            return (answer.body as { id: number }).id
          }
        )
      const mark = yield* lastEvent
      const confirmed = yield* hold(20)
      const booked = yield* raw("POST", `/holds/${confirmed}/confirm`, { token: user.token })
      assert.strictEqual(booked.status, 200, JSON.stringify(booked.body))
      const released = yield* hold(22)
      assert.strictEqual((yield* raw("DELETE", `/holds/${released}`, { token: user.token })).status, 200)
      const late = yield* hold(24)
      const swept = yield* hold(26)
      yield* sql`UPDATE holds SET expires_at = now() - interval '1 second' WHERE id IN (${late}, ${swept})`.pipe(
        Effect.orDie
      )
      assert.strictEqual((yield* raw("POST", `/holds/${late}/confirm`, { token: user.token })).status, 410)
      yield* sweepExpiredHolds(100).pipe(Effect.orDie)
      const events = yield* eventsAfter(mark)
      const bookingId = (booked.body as { id: number }).id
      // the hold's events in order; the confirm's booking.created is written by the same statement
      const holds = events.filter((e) => e.type.startsWith("hold."))
      assert.deepStrictEqual(
        holds.map((e) => [e.type, e.entity, e.hotel_id]),
        [
          ["hold.created", `hold:${confirmed}`, room.hotelId],
          ["hold.confirmed", `hold:${confirmed}`, room.hotelId],
          ["hold.created", `hold:${released}`, room.hotelId],
          ["hold.released", `hold:${released}`, room.hotelId],
          ["hold.created", `hold:${late}`, room.hotelId],
          ["hold.created", `hold:${swept}`, room.hotelId],
          ["hold.expired", `hold:${late}`, room.hotelId],
          ["hold.expired", `hold:${swept}`, room.hotelId]
        ]
      )
      const bookings = events.filter((e) => e.type.startsWith("booking."))
      assert.deepStrictEqual(
        bookings.map((e) => [e.type, e.entity, e.hotel_id]),
        [["booking.created", `booking:${bookingId}`, room.hotelId]]
      )
      assert.deepInclude(holds[1]!.data, {
        id: confirmed,
        status: "confirmed",
        booking_id: bookingId,
        room_id: room.id
      })
      assert.deepInclude(bookings[0]!.data, { id: bookingId, hold_id: confirmed, room_id: room.id })
    })
  )
})

/**
 * `@shum/client` (openapi-fetch over the types generated from /openapi.json) against the real server: a user
 * registers, signs in, searches, books and cancels, as an outside application would. Every answer is also
 * checked against the OpenAPI document (the contract check, through the client's middleware).
 */
import { assert, layer } from "@effect/vitest"
import { createShumClient, type ShumClient } from "@shum/client"
import { Messages } from "@shum/domain/Messages"
import { Effect } from "effect"
import { ContractViolation, violationsOf } from "./Contract.js"
import { seedHotel, serverUrl } from "./DocsFixtures.js"
import { TestServer, uniqueEmail } from "./support.js"

/** The generated client, its every answer checked against the document. */
const checked = (client: ShumClient): ShumClient => {
  client.use({
    onResponse: async ({ request, response }) => {
      const headers = Object.fromEntries(response.headers)
      const observed = { method: request.method, url: request.url, status: response.status, headers }
      const violations = violationsOf(observed, await response.clone().text())
      if (violations.length > 0) throw new ContractViolation(violations)
      return response
    }
  })
  return client
}

const call = <A>(f: () => Promise<A>) => Effect.promise(f)

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("generated client (@shum/client)", (it) => {
  it.effect("register → login → search → book → cancel", () =>
    Effect.gen(function* () {
      const baseUrl = yield* serverUrl
      const { hotel, room, city, stay } = yield* seedHotel({ price: 3000, quantity: 2 })
      const anonymous = checked(createShumClient({ baseUrl }))

      const email = uniqueEmail("client")
      const password = "s3cret-pass"
      const registered = yield* call(() =>
        anonymous.POST("/auth/register", { body: { email, password, first_name: "Иван", last_name: "Петров" } })
      )
      assert.strictEqual(registered.response.status, 201)
      assert.deepInclude(registered.data!, { email, first_name: "Иван", role: "user" })

      const signedIn = yield* call(() => anonymous.POST("/auth/login", { body: { email, password } }))
      assert.strictEqual(signedIn.data!.token_type, "bearer")
      const user = checked(createShumClient({ baseUrl, accessToken: signedIn.data!.access_token }))
      const me = yield* call(() => user.GET("/auth/me"))
      assert.strictEqual(me.data!.id, registered.data!.id)

      const hotels = yield* call(() => user.GET("/hotels", { params: { query: { city, sort_by: "title" } } }))
      assert.deepStrictEqual(
        hotels.data!.map((h) => [h.id, h.title, h.city]),
        [[hotel.id, hotel.title, city]]
      )
      const search = yield* call(() =>
        user.GET("/hotels/rooms/available", { params: { query: { ...stay, hotel_id: hotel.id } } })
      )
      assert.deepStrictEqual(
        search.data!.flatMap((h) => h.rooms.map((r) => [h.id, r.id, r.quantity])),
        [[hotel.id, room.id, 2]]
      )

      const booked = yield* call(() =>
        user.POST("/bookings", {
          params: { header: { "idempotency-key": `client-${email}` } },
          body: { room_id: room.id, ...stay }
        })
      )
      const mine = yield* call(() => user.GET("/bookings/me"))
      assert.strictEqual(mine.data!.length, 1)
      const booking = mine.data![0]!
      assert.deepStrictEqual(booked.data, { status: "OK", id: booking.id, booking })
      assert.strictEqual(booked.response.headers.get("location"), `/bookings/${booking.id}`)
      const read = yield* call(() =>
        user.GET("/bookings/{booking_id}", { params: { path: { booking_id: booked.data!.id } } })
      )
      assert.deepStrictEqual(read.data, booking)
      assert.deepInclude(booking, { room_id: room.id, user_id: me.data!.id, ...stay, price: 3 * 3000 })
      const left = yield* call(() =>
        user.GET("/hotels/{hotel_id}/rooms/available", { params: { path: { hotel_id: hotel.id }, query: stay } })
      )
      assert.strictEqual(left.data![0]!.quantity, 1)

      const cancelled = yield* call(() =>
        user.DELETE("/bookings/{booking_id}", { params: { path: { booking_id: booking.id } } })
      )
      assert.deepStrictEqual(cancelled.data, { status: "OK" })
      assert.deepStrictEqual((yield* call(() => user.GET("/bookings/me"))).data, [])
    })
  )

  it.effect("errors arrive typed, as the documented problem documents", () =>
    Effect.gen(function* () {
      const baseUrl = yield* serverUrl
      const anonymous = checked(createShumClient({ baseUrl }))
      const unauthorized = yield* call(() => anonymous.GET("/auth/me"))
      assert.strictEqual(unauthorized.response.status, 401)
      assert.strictEqual(unauthorized.error!.type, "/problems/unauthorized")
      assert.strictEqual(unauthorized.response.headers.get("www-authenticate"), "Bearer")

      const missing = yield* call(() => anonymous.GET("/hotels/{hotel_id}", { params: { path: { hotel_id: 0 } } }))
      assert.strictEqual(missing.response.status, 404)
      assert.strictEqual(missing.error!.detail, Messages.hotelNotFound)

      const invalid = yield* call(() =>
        anonymous.POST("/auth/login", { body: { email: "not-an-e-mail", password: "short" } })
      )
      assert.strictEqual(invalid.response.status, 422)
      const fields = (invalid.error!.detail as ReadonlyArray<{ loc: ReadonlyArray<string | number> }>).map((issue) =>
        issue.loc.join(".")
      )
      assert.includeMembers(fields, ["body.email", "body.password"])
    })
  )

  it.effect("the contract check rejects an answer the document does not describe (control)", () =>
    Effect.gen(function* () {
      const hotel = { id: 1, title: "Гранд Отель Москва", address: "ул. Тверская, 3", city: "Москва" }
      const observed = {
        method: "GET",
        url: "http://127.0.0.1/hotels",
        status: 200,
        headers: { "content-type": "application/json" }
      }
      // `postal_code`, the times and `country` are missing
      assert.isNotEmpty(violationsOf(observed, JSON.stringify([hotel])))
      assert.isNotEmpty(violationsOf({ ...observed, status: 201 }, "[]"))
      assert.deepStrictEqual(violationsOf(observed, "[]"), [])
    })
  )
})

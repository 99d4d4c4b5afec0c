/**
 * docs/decisions.md D15: every create answers its original body plus `id` (a booking also itself under
 * `booking`) and `Location`, a path the client can `GET` as it is — after `ROOT_PATH` when there is one;
 * `GET /bookings/{id}` reads one booking for its owner or an admin, a 404 for anyone else.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it, layer } from "@effect/vitest"
import { randomName } from "@shum/infra/Testing"
import { Effect } from "effect"
import { day, insertRoom, newUser } from "./BookingsFixtures.js"
import { verdictFor } from "./Contract.js"
import { makeTestServer, TestServer } from "./support.js"

const PREFIX = "/apps/shum-booking"

const send = (
  method: "GET" | "POST",
  url: string,
  options: { readonly token?: string | undefined; readonly body?: unknown } = {}
) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    let request = HttpClientRequest.make(method)(url)
    if (options.token !== undefined) request = HttpClientRequest.bearerToken(request, options.token)
    if (options.body !== undefined) request = HttpClientRequest.bodyUnsafeJson(request, options.body)
    const response = yield* http.execute(request)
    const text = yield* response.text
    return {
      status: response.status,
      location: response.headers["location"],
      contentType: response.headers["content-type"],
      json: (text === "" ? undefined : JSON.parse(text)) as Record<string, unknown> | undefined
    }
  }).pipe(Effect.scoped, Effect.orDie)

/** Creates through `POST path`, checks the answer, then reads `Location` back and returns what it showed. */
const createAndRead = (
  prefix: string,
  path: string,
  body: unknown,
  tokens: { readonly create?: string; readonly read?: string },
  expected: { readonly status: number; readonly location: (id: number) => string }
) =>
  Effect.gen(function* () {
    const created = yield* send("POST", `${prefix}${path}`, { token: tokens.create, body })
    assert.strictEqual(created.status, expected.status, JSON.stringify(created.json))
    const id = created.json!["id"] as number
    assert.isTrue(Number.isInteger(id) && id > 0, JSON.stringify(created.json))
    assert.strictEqual(created.location, `${prefix}${expected.location(id)}`)
    const read = yield* send("GET", created.location!, { token: tokens.read })
    assert.strictEqual(read.status, 200, `GET ${created.location} → ${read.status}`)
    assert.strictEqual(read.json!["id"], id)
    return { created: created.json!, read: read.json! }
  })

/** Every create of the API, each read back through its `Location`, under `prefix` ("" for none). */
const everyCreate = (prefix: string) =>
  Effect.gen(function* () {
    const admin = yield* newUser("admin")
    const as = { create: admin.token, read: admin.token }
    const ok = (location: (id: number) => string) => ({ status: 200, location })

    // a code of two letters (the fixtures use digits first); another test may hold it: then another one
    const letter = () => String.fromCharCode(65 + Math.floor(Math.random() * 26))
    const country = yield* Effect.suspend(() =>
      createAndRead(
        prefix,
        "/countries",
        { name: randomName("Страна-"), iso_code: `${letter()}${letter()}` },
        as,
        ok((id) => `/countries/${id}`)
      )
    ).pipe(Effect.sandbox, Effect.retry({ times: 5 }), Effect.unsandbox)
    assert.strictEqual(country.created["status"], "OK")
    assert.deepStrictEqual(Object.keys(country.created).sort(), ["id", "status"])

    const countryId = country.created["id"] as number
    const cityName = randomName("Город-")
    const city = yield* createAndRead(
      prefix,
      "/cities",
      { name: cityName, country_id: countryId },
      as,
      ok((id) => `/cities/${id}`)
    )
    assert.strictEqual(city.read["name"], cityName)

    const facility = yield* createAndRead(
      prefix,
      "/facilities",
      { title: randomName("Удобство-") },
      as,
      ok((id) => `/facilities/${id}`)
    )
    assert.deepStrictEqual(Object.keys(facility.created).sort(), ["id", "status"])

    const title = randomName("Отель-")
    const hotel = yield* createAndRead(
      prefix,
      "/hotels",
      { title, city: cityName, address: "ул. Тверская, 3" },
      as,
      ok((id) => `/hotels/${id}`)
    )
    assert.strictEqual(hotel.read["title"], title)
    const hotelId = hotel.created["id"] as number

    const room = yield* createAndRead(
      prefix,
      `/hotels/${hotelId}/rooms`,
      { title: "Стандартный номер", price: 2500, quantity: 2 },
      as,
      ok((id) => `/hotels/${hotelId}/rooms/${id}`)
    )
    const roomId = room.created["id"] as number

    const guest = yield* newUser()
    const booking = yield* createAndRead(
      prefix,
      "/bookings",
      { room_id: roomId, date_from: day(30), date_to: day(33) },
      { create: guest.token, read: guest.token },
      ok((id) => `/bookings/${id}`)
    )
    assert.deepStrictEqual(booking.created, { status: "OK", id: booking.read["id"], booking: booking.read })
    assert.deepInclude(booking.read, { room_id: roomId, user_id: guest.id, price: 3 * 2500 })

    const email = `${randomName("new")}@example.com`
    const registered = yield* send("POST", `${prefix}/auth/register`, { body: { email, password: "password123" } })
    assert.strictEqual(registered.status, 201)
    const userId = registered.json!["id"] as number
    assert.strictEqual(registered.location, `${prefix}/users/${userId}`)
    const user = yield* send("GET", registered.location!, { token: admin.token })
    assert.deepStrictEqual([user.status, user.json!["email"]], [200, email])
  })

describe("the contract check of a create's Location", () => {
  const observed = (location: string | undefined) => ({
    method: "POST",
    url: "http://test.invalid/facilities",
    status: 200,
    headers: location === undefined ? { "content-type": "application/json" } : { location }
  })
  const violations = (location: string | undefined) => {
    const verdict = verdictFor(observed(location))
    return verdict._tag === "Done" ? verdict.violations : verdict.check('{"status": "OK", "id": 1}')
  }

  it("refuses a create without Location, or with one of another resource (control)", () => {
    assert.match(violations(undefined).join(), /required header Location is missing/)
    assert.match(violations("/hotels/1").join(), /header Location/)
    assert.match(violations("/facilities/abc").join(), /header Location/)
  })
})

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("created resources (D15)", (it) => {
  it.effect("every create answers its id and a Location that reads the new resource back", () => everyCreate(""))

  it.effect("a failed create carries no Location", () =>
    Effect.gen(function* () {
      const admin = yield* newUser("admin")
      const missingCity = yield* send("POST", "/hotels", {
        token: admin.token,
        body: { title: randomName("Отель-"), city: randomName("нет-такого-"), address: "ул. Тверская, 3" }
      })
      assert.deepStrictEqual([missingCity.status, missingCity.location], [404, undefined])
      const guest = yield* newUser()
      const room = yield* insertRoom({ quantity: 1 })
      const first = yield* send("POST", "/bookings", {
        token: guest.token,
        body: { room_id: room.id, date_from: day(5), date_to: day(6) }
      })
      assert.strictEqual(first.status, 200)
      const soldOut = yield* send("POST", "/bookings", {
        token: guest.token,
        body: { room_id: room.id, date_from: day(5), date_to: day(6) }
      })
      assert.deepStrictEqual([soldOut.status, soldOut.location], [409, undefined])
    })
  )

  it.effect("an Idempotency-Key replay answers the same body and Location", () =>
    Effect.gen(function* () {
      const guest = yield* newUser()
      const room = yield* insertRoom({ quantity: 1 })
      const book = Effect.gen(function* () {
        const http = yield* HttpClient.HttpClient
        const response = yield* http.execute(
          HttpClientRequest.post("/bookings").pipe(
            HttpClientRequest.bearerToken(guest.token),
            HttpClientRequest.setHeader("idempotency-key", `replay-${room.id}`),
            HttpClientRequest.bodyUnsafeJson({ room_id: room.id, date_from: day(7), date_to: day(9) })
          )
        )
        return { status: response.status, location: response.headers["location"], body: yield* response.json }
      }).pipe(Effect.scoped, Effect.orDie)
      const first = yield* book
      const again = yield* book
      assert.strictEqual(first.status, 200)
      assert.deepStrictEqual(again, first)
      assert.strictEqual(first.location, `/bookings/${(first.body as { id: number }).id}`)
    })
  )

  it.effect("GET /bookings/{id}: the owner and an admin read it; another user and a missing id get 404", () =>
    Effect.gen(function* () {
      const owner = yield* newUser()
      const other = yield* newUser()
      const admin = yield* newUser("admin")
      const room = yield* insertRoom({ quantity: 3, price: 700 })
      const created = yield* send("POST", "/bookings", {
        token: owner.token,
        body: { room_id: room.id, date_from: day(3), date_to: day(5) }
      })
      const id = created.json!["id"] as number
      const booking = created.json!["booking"]

      const byOwner = yield* send("GET", `/bookings/${id}`, { token: owner.token })
      assert.deepStrictEqual([byOwner.status, byOwner.json], [200, booking])
      const byAdmin = yield* send("GET", `/bookings/${id}`, { token: admin.token })
      assert.deepStrictEqual([byAdmin.status, byAdmin.json], [200, booking])

      const notFound = { detail: "Бронирование не найдено" }
      // another user cannot tell someone else's booking from a missing one
      const byOther = yield* send("GET", `/bookings/${id}`, { token: other.token })
      const missing = yield* send("GET", `/bookings/${id + 1000}`, { token: owner.token })
      for (const answer of [byOther, missing]) {
        assert.strictEqual(answer.status, 404)
        assert.match(answer.contentType ?? "", /^application\/problem\+json/)
        assert.deepInclude(answer.json, { status: 404, detail: notFound.detail })
      }
      assert.deepStrictEqual(byOther.json, missing.json)

      const anonymous = yield* send("GET", `/bookings/${id}`)
      assert.strictEqual(anonymous.status, 401)
      const notAnInteger = yield* send("GET", "/bookings/abc", { token: owner.token })
      assert.strictEqual(notAnInteger.status, 422)
      assert.deepInclude((notAnInteger.json!["detail"] as Array<Record<string, unknown>>)[0], {
        loc: ["path", "booking_id"]
      })
      // beyond `integer`: nothing can have that id (as every path id)
      const outOfRange = yield* send("GET", "/bookings/2147483648", { token: admin.token })
      assert.strictEqual(outOfRange.status, 404)

      // cancelled: kept for its history (docs/data.md BR-14), read by the owner and an admin as cancelled
      const http = yield* HttpClient.HttpClient
      yield* http
        .execute(HttpClientRequest.del(`/bookings/${id}`).pipe(HttpClientRequest.bearerToken(owner.token)))
        .pipe(Effect.scoped, Effect.orDie)
      const cancelled = yield* send("GET", `/bookings/${id}`, { token: admin.token })
      assert.deepStrictEqual(
        [cancelled.status, cancelled.json],
        [200, { ...(booking as Record<string, unknown>), status: "cancelled" }]
      )
      assert.strictEqual((yield* send("GET", `/bookings/${id}`, { token: other.token })).status, 404)
    })
  )
})

layer(makeTestServer({ ROOT_PATH: PREFIX }), { excludeTestServices: true, timeout: "60 seconds" })(
  "created resources under ROOT_PATH (D15)",
  (it) => {
    it.effect("Location starts with the prefix and reads the resource back, prefixed", () => everyCreate(PREFIX))

    it.effect("a create sent without the prefix (the proxy stripped it) still answers the prefixed path", () =>
      Effect.gen(function* () {
        const admin = yield* newUser("admin")
        const created = yield* send("POST", "/facilities", { token: admin.token, body: { title: randomName("У-") } })
        assert.strictEqual(created.location, `${PREFIX}/facilities/${created.json!["id"] as number}`)
      })
    )
  }
)

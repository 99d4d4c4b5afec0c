/**
 * Bounded input (docs/decisions.md D11), against the real server on the real PostgreSQL: stays beyond
 * `MAX_STAY_NIGHTS` / `BOOKING_HORIZON_DAYS`, dates outside 0001–9999, NUL and lone surrogates in text, and
 * integers beyond their column. Each is a FastAPI-style 422 at the field, and nothing reaches the database.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { HttpClientRequest } from "@effect/platform"
import { Effect } from "effect"
import { assertInventoryClean, day, insertRoom, newUser, raw as rawAs } from "./BookingsFixtures.js"
import { insertFacility, raw } from "./CatalogueFixtures.js"
import { imageDirPath, jpeg, removeDir } from "../../worker/test/ImageFixtures.js"
import { form, send } from "./ImagesSupport.js"
import { afterAll } from "vitest"
import { makeTestServer, signIn } from "./support.js"

interface Issue {
  readonly type: string
  readonly loc: ReadonlyArray<string | number>
  readonly msg: string
  readonly input?: unknown
  readonly ctx?: Record<string, unknown>
}

/** The 422's issues, after checking it is one (a FastAPI-style list under `detail`, as a problem document). */
const issuesOf = (response: { readonly status: number; readonly body?: unknown; readonly json?: unknown }) => {
  const body = (response.body ?? response.json) as { type?: string; detail?: ReadonlyArray<Issue> }
  assert.strictEqual(response.status, 422, JSON.stringify(body))
  assert.strictEqual(body.type, "/problems/validation-error")
  return body.detail ?? []
}

/** The single issue of a 422, located at `loc`. */
const oneIssueAt = (response: Parameters<typeof issuesOf>[0], loc: ReadonlyArray<string | number>) => {
  const issues = issuesOf(response)
  assert.deepStrictEqual(
    issues.map((issue) => issue.loc),
    [loc],
    JSON.stringify(issues)
  )
  return issues[0]!
}

const INT32_MAX = 2_147_483_647
const TOO_BIG = 2 ** 31

/** The whole content of the tables a refused request must not touch. */
const snapshot = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<Record<string, number>>`
    SELECT (SELECT count(*) FROM countries)::int AS countries, (SELECT count(*) FROM cities)::int AS cities,
      (SELECT count(*) FROM hotels)::int AS hotels, (SELECT count(*) FROM rooms)::int AS rooms,
      (SELECT count(*) FROM facilities)::int AS facilities, (SELECT count(*) FROM rooms_facilities)::int AS links,
      (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM bookings)::int AS bookings,
      (SELECT count(*) FROM room_nights)::int AS room_nights,
      (SELECT count(*) FROM idempotency_keys)::int AS idempotency_keys,
      (SELECT count(*) FROM images)::int AS images,
      (SELECT md5(string_agg(r::text, ',' ORDER BY r.id)) FROM rooms r)::text AS rooms_digest`
  return row!
}).pipe(Effect.orDie)

/**
 * A room type in a hotel of its own (in a city and country of their own), with their ids and names; the
 * facilities given are linked to the room.
 */
const roomWithHotel = (facilityIds: ReadonlyArray<number> = []) =>
  Effect.gen(function* () {
    const room = yield* insertRoom({ quantity: 1, price: 100 })
    const sql = yield* SqlClient.SqlClient
    for (const facilityId of facilityIds) {
      yield* sql`INSERT INTO rooms_facilities (room_id, facility_id) VALUES (${room.id}, ${facilityId})`
    }
    const [city] = yield* sql<{ name: string; country_id: number }>`
      SELECT name, country_id FROM cities WHERE id = ${room.cityId}`
    return { ...room, cityName: city!.name, countryId: city!.country_id }
  }).pipe(Effect.orDie)

/** The admin of `raw(…, { admin: true })`, signed in before any snapshot (signing in writes). */
const adminReady = raw("GET", "/auth/me", { admin: true })

/** Runs `requests` and checks the database is exactly as before. */
const writesNothing = <A, E, R>(requests: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    yield* adminReady
    const before = yield* snapshot
    const result = yield* requests
    assert.deepStrictEqual(yield* snapshot, before)
    return result
  })

/** Uploads go to a folder of their own, and answer 202 at once (no worker here). */
const imageDir = imageDirPath()
afterAll(() => removeDir(imageDir))
const Server = makeTestServer({ IMAGE_DIR: imageDir, IMAGE_UPLOAD_WAIT_SECONDS: "0" })

layer(Server, { excludeTestServices: true, timeout: "120 seconds" })("input limits (D11)", (it) => {
  it.effect("a booking longer than MAX_STAY_NIGHTS (90) is a 422 at date_to naming the limit; 90 nights book", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1, price: 100 })
      const user = yield* newUser()
      for (const headers of [{}, { "idempotency-key": `long-${room.id}` }]) {
        const response = yield* writesNothing(
          rawAs("POST", "/bookings", {
            token: user.token,
            headers,
            body: { room_id: room.id, date_from: day(1), date_to: day(92) }
          })
        )
        const issue = oneIssueAt(response, ["body", "date_to"])
        assert.strictEqual(issue.type, "value_error")
        assert.strictEqual(issue.msg, "Value error, a stay is at most 90 nights (MAX_STAY_NIGHTS); this one is 91")
        assert.strictEqual(issue.input, day(92))
        assert.deepStrictEqual(issue.ctx, { max_stay_nights: 90 })
      }
      const longest = yield* rawAs("POST", "/bookings", {
        token: user.token,
        body: { room_id: room.id, date_from: day(1), date_to: day(91) }
      })
      assert.strictEqual(longest.status, 200, JSON.stringify(longest.body))
      yield* assertInventoryClean
    })
  )

  it.effect("a booking beginning more than BOOKING_HORIZON_DAYS (730) ahead is a 422 at date_from; day 730 books", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1, price: 100 })
      const user = yield* newUser()
      for (const headers of [{}, { "idempotency-key": `far-${room.id}` }]) {
        const response = yield* writesNothing(
          rawAs("POST", "/bookings", {
            token: user.token,
            headers,
            body: { room_id: room.id, date_from: day(731), date_to: day(733) }
          })
        )
        const issue = oneIssueAt(response, ["body", "date_from"])
        assert.strictEqual(issue.type, "value_error")
        assert.strictEqual(
          issue.msg,
          `Value error, a stay begins at most 730 days after today (BOOKING_HORIZON_DAYS): ${day(730)} at the latest`
        )
        assert.deepStrictEqual(issue.ctx, { booking_horizon_days: 730, latest: day(730) })
      }
      // both limits at once: both reported, each at its date (the 2.9-million-night booking of issue 14)
      const both = yield* writesNothing(
        rawAs("POST", "/bookings", {
          token: user.token,
          body: { room_id: room.id, date_from: day(800), date_to: "9999-12-31" }
        })
      )
      assert.deepStrictEqual(
        issuesOf(both).map((issue) => issue.loc),
        [
          ["body", "date_from"],
          ["body", "date_to"]
        ]
      )
      const farthest = yield* rawAs("POST", "/bookings", {
        token: user.token,
        body: { room_id: room.id, date_from: day(730), date_to: day(731) }
      })
      assert.strictEqual(farthest.status, 200, JSON.stringify(farthest.body))
      yield* assertInventoryClean
    })
  )

  it.effect("the stay limits come before the room (404) and the dates (400)", () =>
    Effect.gen(function* () {
      const user = yield* newUser()
      const unknownRoom = yield* rawAs("POST", "/bookings", {
        token: user.token,
        body: { room_id: 999_999, date_from: day(1), date_to: day(200) }
      })
      oneIssueAt(unknownRoom, ["body", "date_to"])
      // a reversed stay has no nights to count: the order of before (unknown room 404, then 400)
      const reversed = yield* rawAs("POST", "/bookings", {
        token: user.token,
        body: { room_id: 999_999, date_from: day(5), date_to: day(1) }
      })
      assert.strictEqual(reversed.status, 404)
    })
  )

  it.effect("both availability searches accept the booking ranges only: longer or farther → 422", () =>
    Effect.gen(function* () {
      const { hotelId } = yield* roomWithHotel()
      const searches = [`/hotels/${hotelId}/rooms/available`, "/hotels/rooms/available"]
      for (const path of searches) {
        const long = yield* raw("GET", `${path}?date_from=${day(1)}&date_to=${day(92)}`)
        const issue = oneIssueAt(long, ["query", "date_to"])
        assert.include(issue.msg, "MAX_STAY_NIGHTS")
        assert.include(issue.msg, "at most 90 nights")

        const far = yield* raw("GET", `${path}?date_from=${day(731)}&date_to=${day(732)}`)
        assert.include(oneIssueAt(far, ["query", "date_from"]).msg, "BOOKING_HORIZON_DAYS")

        // the whole calendar at once (was a scan of millions of nights)
        const everything = yield* raw("GET", `${path}?date_from=0001-01-01&date_to=9999-12-31`)
        assert.deepStrictEqual(
          issuesOf(everything).map((i) => i.loc),
          [["query", "date_to"]]
        )

        // within the limits: answered, the longest and the farthest included, and past nights too
        for (const [from, to] of [
          [day(1), day(91)],
          [day(730), day(731)],
          [day(-30), day(-20)],
          ["0001-01-01", "0001-01-05"]
        ]) {
          const ok = yield* raw("GET", `${path}?date_from=${from}&date_to=${to}`)
          assert.strictEqual(ok.status, 200, `${path} ${from} → ${to}: ${ok.text}`)
        }
      }
      // a reversed range is still the 400 of before, and the limits come first
      assert.strictEqual((yield* raw("GET", `${searches[0]}?date_from=${day(5)}&date_to=${day(1)}`)).status, 400)
      oneIssueAt(yield* raw("GET", `${searches[1]}?date_from=${day(900)}&date_to=${day(1)}`), ["query", "date_from"])
    })
  )

  it.effect("dates outside 0001–9999 are a 422 at the field in searches and bookings, never a database error", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1 })
      const user = yield* newUser()
      for (const bad of ["0000-01-01", "10000-01-01", "-0001-01-01", "0000-12-31"]) {
        for (const path of [`/hotels/${room.hotelId}/rooms/available`, "/hotels/rooms/available"]) {
          const asFrom = yield* raw("GET", `${path}?date_from=${bad}&date_to=${day(1)}`)
          assert.strictEqual(oneIssueAt(asFrom, ["query", "date_from"]).input, bad)
          const asTo = yield* raw("GET", `${path}?date_from=${day(1)}&date_to=${bad}`)
          assert.strictEqual(oneIssueAt(asTo, ["query", "date_to"]).input, bad)
        }
        const booking = yield* writesNothing(
          rawAs("POST", "/bookings", {
            token: user.token,
            body: { room_id: room.id, date_from: bad, date_to: day(3) }
          })
        )
        oneIssueAt(booking, ["body", "date_from"])
      }
      const zero = yield* raw("GET", `/hotels/rooms/available?date_from=0000-01-01&date_to=${day(1)}`)
      assert.strictEqual(
        oneIssueAt(zero, ["query", "date_from"]).msg,
        "Input should be a valid date from 0001-01-01 to 9999-12-31 (there is no year 0)"
      )
    })
  )

  it.effect("NUL or a lone surrogate in a body field is a 422 at that field; nothing is written", () =>
    Effect.gen(function* () {
      const room = yield* roomWithHotel()
      const hotel = { id: room.hotelId }
      const countryId = room.countryId
      const city = { json: { id: room.cityId } }
      const cityName = room.cityName
      const roomBody = { title: "Номер", price: 100, quantity: 1 }
      const hotelBody = { title: `Отель ${hotel.id}-x`, city: cityName, address: "ул. Тестовая, 1" }
      for (const [bad, msg] of [
        ["a\u0000b", "Value error, the text contains a NUL character (U+0000), which is not accepted"],
        [
          "a\ud800b",
          "Value error, the text contains an unpaired surrogate (not a Unicode character), which is not accepted"
        ],
        [
          "\udc00",
          "Value error, the text contains an unpaired surrogate (not a Unicode character), which is not accepted"
        ]
      ] as const) {
        const cases: Array<[method: "POST" | "PUT" | "PATCH", url: string, body: object, field: string]> = [
          ["POST", "/countries", { name: bad, iso_code: "Q2" }, "name"],
          ["POST", "/countries", { name: "Ок", iso_code: `Q${bad.replace(/[a-z]/g, "")}` }, "iso_code"],
          ["PATCH", `/countries/${countryId}`, { name: bad }, "name"],
          ["POST", "/cities", { name: bad, country_id: countryId }, "name"],
          ["PUT", `/cities/${(city.json as { id: number }).id}`, { name: bad, country_id: countryId }, "name"],
          ["POST", "/facilities", { title: bad }, "title"],
          ["POST", "/hotels", { ...hotelBody, title: bad }, "title"],
          ["POST", "/hotels", { ...hotelBody, city: bad }, "city"],
          ["POST", "/hotels", { ...hotelBody, address: bad }, "address"],
          ["PUT", `/hotels/${hotel.id}`, { ...hotelBody, postal_code: bad }, "postal_code"],
          ["PATCH", `/hotels/${hotel.id}`, { address: bad }, "address"],
          ["POST", `/hotels/${hotel.id}/rooms`, { ...roomBody, title: bad }, "title"],
          ["POST", `/hotels/${hotel.id}/rooms`, { ...roomBody, description: bad }, "description"],
          ["PUT", `/hotels/${hotel.id}/rooms/${room.id}`, { ...roomBody, description: bad }, "description"],
          ["PATCH", `/hotels/${hotel.id}/rooms/${room.id}`, { title: bad }, "title"],
          [
            "POST",
            "/auth/register",
            { email: `nul${hotel.id}@example.com`, password: "password123", first_name: bad },
            "first_name"
          ],
          ["POST", "/auth/register", { email: `a${bad}b@example.com`, password: "password123" }, "email"],
          ["POST", "/auth/register", { email: `nul${hotel.id}@example.com`, password: `password${bad}` }, "password"],
          ["POST", "/auth/login", { email: `nul${hotel.id}@example.com`, password: `password${bad}` }, "password"],
          ["POST", "/auth/refresh", { refresh_token: bad }, "refresh_token"]
        ]
        for (const [method, url, body, field] of cases) {
          const response = yield* writesNothing(raw(method, url, { admin: true, body }))
          const issue = oneIssueAt(response, ["body", field])
          assert.deepStrictEqual([issue.type, issue.msg], ["value_error", msg], `${method} ${url} ${field}`)
        }
        // the user's own account: PUT and PATCH
        const user = yield* signIn()
        for (const [method, body, field] of [
          ["PATCH", { last_name: bad }, "last_name"],
          ["PUT", { email: user.email, first_name: bad }, "first_name"],
          ["PATCH", { password: `password${bad}` }, "password"]
        ] as const) {
          const response = yield* writesNothing(rawAs(method, `/users/${user.id}`, { token: user.token, body }))
          assert.strictEqual(oneIssueAt(response, ["body", field]).msg, msg)
        }
      }
    })
  )

  it.effect("NUL in a query filter or a path parameter is a 422 at that parameter", () =>
    Effect.gen(function* () {
      const { hotelId } = yield* roomWithHotel()
      const hotel = { id: hotelId }
      const nul = "%00"
      for (const [url, field] of [
        [`/hotels?title=a${nul}`, "title"],
        [`/hotels?city=${nul}`, "city"],
        [`/countries?name=${nul}`, "name"],
        [`/cities?name=x${nul}y`, "name"],
        [`/facilities?title=${nul}`, "title"],
        [`/hotels/${hotel.id}/rooms?title=${nul}`, "title"],
        [`/hotels/rooms/available?date_from=${day(1)}&date_to=${day(2)}&title=${nul}`, "title"],
        [`/hotels/rooms/available?date_from=${day(1)}&date_to=${day(2)}&city=${nul}`, "city"],
        [`/users?email=${nul}`, "email"]
      ] as const) {
        const response = yield* raw("GET", url, { admin: true })
        const issue = oneIssueAt(response, ["query", field])
        assert.strictEqual(
          issue.msg,
          "Value error, the text contains a NUL character (U+0000), which is not accepted",
          url
        )
      }
      for (const [url, field] of [
        [`/hotels/${nul}`, "hotel_id"],
        [`/hotels/1${nul}`, "hotel_id"],
        [`/hotels/${hotel.id}/rooms/${nul}`, "room_id"],
        [`/countries/${nul}`, "country_id"],
        [`/users/${nul}`, "user_id"]
      ] as const) {
        oneIssueAt(yield* raw("GET", url, { admin: true }), ["path", field])
      }
      // a NUL in a date or an id parameter is just not a date or an id
      oneIssueAt(yield* raw("GET", `/hotels/rooms/available?date_from=${nul}&date_to=${day(2)}`), [
        "query",
        "date_from"
      ])
      oneIssueAt(yield* raw("GET", `/hotels?city_id=1${nul}`), ["query", "city_id"])
    })
  )

  it.effect("a NUL in an uploaded file's name is a 422 at the file (400 when the part header is malformed)", () =>
    Effect.gen(function* () {
      const { hotelId } = yield* roomWithHotel()
      const admin = yield* signIn("admin")
      const image = yield* Effect.promise(() => jpeg(1200, 800))
      const boundary = "----shum-limits-boundary"
      /** One `file` part whose Content-Disposition carries `disposition` (byte for byte). */
      const upload = (disposition: string) =>
        send(
          HttpClientRequest.post(`/images/upload/${hotelId}`).pipe(
            HttpClientRequest.bearerToken(admin.token),
            HttpClientRequest.bodyUint8Array(
              Buffer.concat([
                Buffer.from(
                  `--${boundary}\r\nContent-Disposition: form-data; name="file"; ${disposition}\r\n` +
                    "Content-Type: image/jpeg\r\n\r\n",
                  "utf8"
                ),
                image,
                Buffer.from(`\r\n--${boundary}--\r\n`, "utf8")
              ]),
              `multipart/form-data; boundary=${boundary}`
            )
          )
        )
      // RFC 5987 form: the name decodes to text with a NUL
      const encoded = yield* writesNothing(upload("filename*=UTF-8''photo%00.jpg"))
      const issue = oneIssueAt(encoded, ["body", "file"])
      assert.deepStrictEqual(
        [issue.type, issue.msg],
        ["value_error", "Value error, the file name contains a NUL character (U+0000), which is not accepted"]
      )
      // a raw NUL in the part's header as `FormData` writes it: the body cannot be parsed, a 400 as Starlette
      // answers it (was a 500)
      const rawNul = yield* writesNothing(
        send(
          HttpClientRequest.post(`/images/upload/${hotelId}`).pipe(
            HttpClientRequest.bearerToken(admin.token),
            HttpClientRequest.bodyFormData(form(image, "photo\u0000.jpg"))
          )
        )
      )
      assert.deepStrictEqual(
        [rawNul.status, (rawNul.json as { detail?: unknown }).detail],
        [400, "There was an error parsing the body"]
      )
      // the same upload with a plain name is accepted (the refusals above were about the name only)
      assert.strictEqual((yield* upload('filename="photo.jpg"')).status, 202)
    })
  )

  it.effect("price, quantity and facility_ids of 2^31 on POST/PUT/PATCH rooms are 422s naming the bound", () =>
    Effect.gen(function* () {
      const facility = yield* insertFacility()
      const room = yield* roomWithHotel([facility.id])
      const hotel = { id: room.hotelId }
      const base = { title: "Номер", price: 100, quantity: 1, facility_ids: [facility.id] }
      const rooms = `/hotels/${hotel.id}/rooms`
      const one = `${rooms}/${room.id}`
      const cases: Array<[method: "POST" | "PUT" | "PATCH", url: string, body: object, loc: Array<string | number>]> =
        []
      for (const [method, url] of [
        ["POST", rooms],
        ["PUT", one],
        ["PATCH", one]
      ] as const) {
        const body = method === "PATCH" ? {} : base
        cases.push(
          [method, url, { ...body, price: TOO_BIG }, ["body", "price"]],
          [method, url, { ...body, quantity: TOO_BIG }, ["body", "quantity"]],
          [method, url, { ...body, price: String(TOO_BIG) }, ["body", "price"]],
          [method, url, { ...body, quantity: 1e300 }, ["body", "quantity"]],
          [method, url, { ...body, price: 2 ** 63 }, ["body", "price"]],
          [method, url, { ...body, facility_ids: [facility.id, TOO_BIG] }, ["body", "facility_ids", 1]]
        )
      }
      for (const [method, url, body, loc] of cases) {
        const response = yield* writesNothing(raw(method, url, { admin: true, body }))
        const issue = oneIssueAt(response, loc)
        assert.deepStrictEqual(
          [issue.type, issue.msg, issue.ctx],
          ["less_than_equal", `Input should be less than or equal to ${INT32_MAX}`, { le: INT32_MAX }],
          `${method} ${url} ${JSON.stringify(body)}`
        )
      }
      const low = yield* writesNothing(
        raw("POST", rooms, { admin: true, body: { ...base, facility_ids: [-TOO_BIG - 1] } })
      )
      assert.deepStrictEqual(oneIssueAt(low, ["body", "facility_ids", 0]).ctx, { ge: -TOO_BIG })
      const negative = yield* writesNothing(raw("PATCH", one, { admin: true, body: { price: -1 } }))
      assert.deepStrictEqual(oneIssueAt(negative, ["body", "price"]).ctx, { ge: 0 })
      // the largest value is an ordinary one
      const largest = yield* raw("PATCH", one, { admin: true, body: { price: INT32_MAX, quantity: INT32_MAX } })
      assert.strictEqual(largest.status, 200, largest.text)
    })
  )

  it.effect("other integers beyond their column: ids in bodies, pagination, external ids → 422 naming the bound", () =>
    Effect.gen(function* () {
      const user = yield* newUser()
      const booking = yield* writesNothing(
        rawAs("POST", "/bookings", {
          token: user.token,
          body: { room_id: TOO_BIG, date_from: day(1), date_to: day(2) }
        })
      )
      assert.strictEqual(oneIssueAt(booking, ["body", "room_id"]).type, "less_than_equal")
      for (const [method, body] of [
        ["POST", { name: "Город", country_id: TOO_BIG }],
        ["POST", { name: "Город", country_id: -TOO_BIG - 1 }]
      ] as const) {
        const response = yield* writesNothing(raw(method, "/cities", { admin: true, body }))
        assert.include(oneIssueAt(response, ["body", "country_id"]).msg, "2147483")
      }
      for (const url of ["/hotels", "/countries", "/cities", "/facilities", "/bookings", "/users"]) {
        const tooFar = yield* raw("GET", `${url}?page=${TOO_BIG}`, { admin: true })
        assert.deepStrictEqual(oneIssueAt(tooFar, ["query", "page"]).ctx, { le: INT32_MAX }, url)
        const huge = yield* raw("GET", `${url}?page=${"1".repeat(21)}`, { admin: true })
        assert.strictEqual(oneIssueAt(huge, ["query", "page"]).type, "less_than_equal", url)
        // an exponent is no integer's spelling (docs/api.md §1.2)
        const exponent = yield* raw("GET", `${url}?page=1e20`, { admin: true })
        assert.strictEqual(oneIssueAt(exponent, ["query", "page"]).type, "int_parsing", url)
        const last = yield* raw("GET", `${url}?page=${INT32_MAX}&per_page=20`, { admin: true })
        assert.deepStrictEqual([last.status, last.json], [200, []], url)
      }
      const external = yield* writesNothing(
        raw("POST", "/auth/register", {
          body: { email: `ext${user.id}@example.com`, password: "password123", telegram_id: 2 ** 63 }
        })
      )
      assert.deepStrictEqual(oneIssueAt(external, ["body", "telegram_id"]).ctx, { le: Number.MAX_SAFE_INTEGER })
    })
  )
})

layer(makeTestServer({ MAX_STAY_NIGHTS: "3", BOOKING_HORIZON_DAYS: "10" }), {
  excludeTestServices: true,
  timeout: "60 seconds"
})("input limits from the configuration (D11)", (it) => {
  it.effect("MAX_STAY_NIGHTS and BOOKING_HORIZON_DAYS set the limits of bookings and searches", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 1 })
      const user = yield* newUser()
      const book = (from: number, to: number) =>
        rawAs("POST", "/bookings", {
          token: user.token,
          body: { room_id: room.id, date_from: day(from), date_to: day(to) }
        })
      assert.strictEqual(
        oneIssueAt(yield* writesNothing(book(1, 5)), ["body", "date_to"]).msg,
        "Value error, a stay is at most 3 nights (MAX_STAY_NIGHTS); this one is 4"
      )
      assert.include(oneIssueAt(yield* writesNothing(book(11, 12)), ["body", "date_from"]).msg, "at most 10 days")
      assert.strictEqual((yield* book(1, 4)).status, 200)
      assert.strictEqual((yield* book(10, 11)).status, 200)
      const search = (from: number, to: number) =>
        raw("GET", `/hotels/${room.hotelId}/rooms/available?date_from=${day(from)}&date_to=${day(to)}`)
      oneIssueAt(yield* search(1, 5), ["query", "date_to"])
      oneIssueAt(yield* search(11, 12), ["query", "date_from"])
      assert.strictEqual((yield* search(7, 10)).status, 200)
    })
  )
})

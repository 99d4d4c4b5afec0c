/**
 * Ids are PostgreSQL `integer`s. An id beyond that range in a path names nothing (404, never the 500
 * PostgreSQL's refusal of the parameter used to give); one in an id filter is a 422 naming the bound.
 * An id is read as the original (FastAPI, Pydantic's lax mode) read it (docs/api.md §13): decimal digits
 * with an optional sign, leading zeros and surrounding blanks; nothing else — no hexadecimal, octal or
 * binary, no exponent, no fraction but zeros, no digit separators — is an integer (422 `int_parsing`).
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { allRoutes } from "../src/Http/RouteTable.js"
import { day, insertRoom } from "./BookingsFixtures.js"
import { detail, raw } from "./CatalogueFixtures.js"
import { TestServer } from "./support.js"

const TOO_BIG = "2147483648"
const TOO_SMALL = "-2147483649"

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("ids beyond integer", (it) => {
  it.effect("every route with a path id answers 404 for one beyond integer's range, as admin", () =>
    Effect.gen(function* () {
      const routes = allRoutes.filter((route) => route.template.includes(":"))
      assert.isAbove(routes.length, 15)
      for (const route of routes) {
        for (const id of [TOO_BIG, TOO_SMALL, "99999999999"]) {
          const url = route.template.replace(/:\w+/g, id)
          const body = route.method === "GET" || route.method === "DELETE" ? undefined : {}
          const response = yield* raw(route.method as "GET", url, { admin: true, ...(body ? { body } : {}) })
          assert.strictEqual(response.status, 404, `${route.method} ${url}: ${response.text}`)
          assert.strictEqual(detail(response), "Not Found", `${route.method} ${url}`)
        }
      }
      // the largest id is an ordinary one
      assert.strictEqual((yield* raw("GET", "/hotels/2147483647")).status, 404)
      assert.strictEqual(detail(yield* raw("GET", "/hotels/2147483647")), "Отель не найден")
    })
  )

  it.effect("an id's spelling: decimal only, as Pydantic reads it; any other form a 422, any length a 4xx", () =>
    Effect.gen(function* () {
      const id = (yield* insertRoom({ quantity: 1 })).hotelId
      const same = yield* raw("GET", `/hotels/${id}`)
      assert.strictEqual(same.status, 200)
      // the same hotel
      for (const spelling of [
        `0${id}`,
        `000${id}`,
        `+${id}`,
        `%20${id}`,
        `${id}%20`,
        `${id}.0`,
        `${id}.00`,
        `${id}.`
      ]) {
        const response = yield* raw("GET", `/hotels/${spelling}`)
        assert.strictEqual(response.status, 200, `/hotels/${spelling}: ${response.text}`)
        assert.deepStrictEqual(response.json, same.json, `/hotels/${spelling}`)
      }
      // not integers: 422 int_parsing at the path parameter, the segment echoed as sent
      for (const spelling of [
        "0x1",
        "0X1",
        "0o1",
        "0b1",
        "1e3",
        "1E0",
        "1e-0",
        "Infinity",
        "-Infinity",
        "NaN",
        "1_000",
        "1.5",
        ".1",
        "1-",
        "--1",
        "+-1",
        "%EF%BC%91",
        "0x",
        "١"
      ]) {
        const response = yield* raw("GET", `/hotels/${spelling}`)
        assert.strictEqual(response.status, 422, `/hotels/${spelling}: ${response.text}`)
        const [problem] = detail(response) as Array<{ type: string; loc: Array<string> }>
        assert.deepStrictEqual([problem?.type, problem?.loc], ["int_parsing", ["path", "hotel_id"]], spelling)
      }
      // integers of any length beyond `integer`: no such hotel
      for (const spelling of ["9999999999999999999", "-9999999999999999999", "9007199254740993", "1".repeat(400)]) {
        const response = yield* raw("GET", `/hotels/${spelling}`)
        assert.strictEqual(response.status, 404, `/hotels/${spelling.slice(0, 30)}: ${response.text}`)
      }
      assert.strictEqual((yield* raw("GET", "/hotels/-1")).status, 404)
      // the same rules in a query's id filter and a body's integer field
      const hex = yield* raw("GET", "/hotels?city_id=0x1")
      assert.strictEqual(hex.status, 422)
      assert.deepStrictEqual((detail(hex) as Array<{ type: string }>)[0]?.type, "int_parsing")
      const huge = yield* raw("GET", `/hotels?city_id=${"9".repeat(400)}`)
      assert.strictEqual(huge.status, 422)
      assert.deepStrictEqual((detail(huge) as Array<{ type: string }>)[0]?.type, "less_than_equal")
      assert.strictEqual((yield* raw("GET", "/hotels?per_page=0x2")).status, 422)
      assert.strictEqual((yield* raw("GET", "/hotels?per_page=+02")).status, 200)
      const body = yield* raw("POST", "/bookings", {
        admin: true,
        body: { room_id: "0x1", date_from: day(1), date_to: day(2) }
      })
      assert.strictEqual(body.status, 422, body.text)
      assert.deepInclude((detail(body) as Array<{ loc: Array<string> }>)[0], { loc: ["body", "room_id"] })
    })
  )

  it.effect("an id filter beyond integer's range is a 422 naming the bound", () =>
    Effect.gen(function* () {
      for (const [url, field] of [
        [`/hotels?city_id=${TOO_BIG}`, "city_id"],
        [`/hotels/rooms/available?date_from=${day(1)}&date_to=${day(2)}&hotel_id=${TOO_BIG}`, "hotel_id"],
        [`/cities?country_id=${TOO_BIG}`, "country_id"]
      ] as const) {
        const response = yield* raw("GET", url)
        assert.strictEqual(response.status, 422, url)
        const [problem] = detail(response) as Array<{ type: string; loc: Array<string>; msg: string }>
        assert.deepStrictEqual(
          [problem?.type, problem?.loc, problem?.msg],
          ["less_than_equal", ["query", field], "Input should be less than or equal to 2147483647"],
          url
        )
      }
      const low = yield* raw("GET", `/hotels?city_id=${TOO_SMALL}`)
      assert.strictEqual(low.status, 422)
      assert.strictEqual((detail(low) as Array<{ type: string }>)[0]?.type, "greater_than_equal")
      assert.deepStrictEqual((yield* raw("GET", "/hotels?city_id=2147483647")).json, [])
    })
  )
})

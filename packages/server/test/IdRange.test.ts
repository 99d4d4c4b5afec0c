/**
 * Ids are PostgreSQL `integer`s. An id beyond that range in a path names nothing (404, never the 500
 * PostgreSQL's refusal of the parameter used to give); one in an id filter is a 422 naming the bound.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { allRoutes } from "../src/Http/RouteTable.js"
import { day } from "./BookingsFixtures.js"
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

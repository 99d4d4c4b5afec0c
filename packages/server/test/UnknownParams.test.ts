/**
 * No silently ignored query parameters (docs/api.md §1.5): a parameter the endpoint does not declare is
 * ignored, as the original ignored it, and named in a `Warning` header — one rule for every route, derived
 * from its declared url params. `GET /hotels` refuses `date_from`/`date_to` (422 naming the search).
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { allRoutes } from "../src/Http/RouteTable.js"
import { SHOWN, unknownParamsWarning, unknownQueryParams } from "../src/Http/UnknownParams.js"
import { day, newUser } from "./BookingsFixtures.js"
import { document } from "./Contract.js"
import { makeTestServer, TestServer } from "./support.js"

const PREFIX = "/apps/shum-booking"

const send = (method: "GET" | "POST" | "HEAD", url: string, token?: string) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    let request = HttpClientRequest.make(method)(url)
    if (token !== undefined) request = HttpClientRequest.bearerToken(request, token)
    if (method === "POST") request = HttpClientRequest.bodyUnsafeJson(request, {})
    const response = yield* http.execute(request)
    const text = method === "HEAD" ? "" : yield* response.text
    return {
      status: response.status,
      warning: response.headers["warning"],
      json: text === "" ? undefined : JSON.parse(text)
    }
  }).pipe(Effect.scoped, Effect.orDie)

describe("the unknown query parameters of a route", () => {
  it("are exactly those its OpenAPI operation does not list as query parameters, on every route", () => {
    for (const route of allRoutes) {
      const template = route.template.replace(/:(\w+)/g, "{$1}")
      const operation = document.paths[template]![route.method.toLowerCase()] as unknown as {
        readonly parameters?: ReadonlyArray<{ readonly name: string; readonly in: string }>
      }
      const documented = (operation.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name)
      assert.deepStrictEqual([...route.queryParams].sort(), documented.sort(), `${route.method} ${template}`)
      const url = `/x?${documented.map((name) => `${name}=1`).join("&")}&zz=1&${documented[0] ?? "zz"}=2`
      assert.deepStrictEqual(unknownQueryParams(route, url), ["zz"], `${route.method} ${template}`)
      assert.deepStrictEqual(unknownQueryParams(route, "/x"), [])
      assert.deepStrictEqual(unknownQueryParams(route, "/x?"), [])
    }
  })

  it("are named percent-encoded (ASCII only), at most SHOWN of them", () => {
    assert.strictEqual(unknownParamsWarning(["colour"]), '299 - "unknown query parameter ignored: colour"')
    assert.strictEqual(
      unknownParamsWarning(['a"b', "süß", ""]),
      '299 - "unknown query parameters ignored: a%22b, s%C3%BC%C3%9F, (empty name)"'
    )
    const many = Array.from({ length: SHOWN + 3 }, (_, i) => `p${i}`)
    assert.match(unknownParamsWarning(many), / p9 and 3 more"$/)
    assert.match(unknownParamsWarning(["x".repeat(500)]), /: x{64}\.\.\."$/)
  })
})

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("unknown query parameters", (it) => {
  it.effect("are ignored as the original ignored them, and named in a Warning header", () =>
    Effect.gen(function* () {
      const plain = yield* send("GET", "/hotels?per_page=2")
      const extra = yield* send("GET", "/hotels?per_page=2&colour=red")
      assert.deepStrictEqual([plain.status, plain.warning], [200, undefined])
      assert.deepStrictEqual([extra.status, extra.json], [200, plain.json])
      assert.strictEqual(extra.warning, '299 - "unknown query parameter ignored: colour"')

      const several = yield* send("GET", "/countries?name=&fields=id&sort=name&fields=x&s%C3%BC%C3%9F=1")
      assert.strictEqual(several.warning, '299 - "unknown query parameters ignored: fields, sort, s%C3%BC%C3%9F"')
    })
  )

  it.effect("on every kind of route and answer: no query declared, an error, a probe, HEAD", () =>
    Effect.gen(function* () {
      const warning = '299 - "unknown query parameter ignored: debug"'
      // a route that declares no query at all, refusing the caller (401) and the body (422)
      assert.deepStrictEqual(yield* send("POST", "/bookings?debug=1"), {
        status: 401,
        warning,
        json: (yield* send("POST", "/bookings")).json
      })
      const user = yield* newUser()
      const invalid = yield* send("POST", "/bookings?debug=1", user.token)
      assert.deepStrictEqual([invalid.status, invalid.warning], [422, warning])
      // an unknown id (404 from the handler), a probe, a HEAD
      assert.deepStrictEqual((yield* send("GET", "/hotels/999999?debug=1")).warning, warning)
      assert.deepStrictEqual((yield* send("GET", "/health?debug=1")).warning, warning)
      assert.deepStrictEqual((yield* send("HEAD", "/hotels?debug=1")).warning, warning)
      // not a route of the API: nothing to compare with
      assert.strictEqual((yield* send("GET", "/nowhere?debug=1")).warning, undefined)
    })
  )

  it.effect("GET /hotels refuses date_from/date_to: 422 at the parameter, naming the search that takes them", () =>
    Effect.gen(function* () {
      const answer = yield* send("GET", `/hotels?date_from=${day(30)}&date_to=${day(33)}`)
      assert.strictEqual(answer.status, 422)
      const detail = answer.json.detail as Array<{ loc: Array<string>; msg: string; input: unknown }>
      assert.deepStrictEqual(
        detail.map((issue) => [issue.loc, issue.input]),
        [
          [["query", "date_from"], day(30)],
          [["query", "date_to"], day(33)]
        ]
      )
      for (const issue of detail) assert.include(issue.msg, "GET /hotels/rooms/available?date_from=")
      // where availability lives, those parameters are the search itself
      const search = yield* send("GET", `/hotels/rooms/available?date_from=${day(30)}&date_to=${day(33)}`)
      assert.deepStrictEqual([search.status, search.warning], [200, undefined])
    })
  )
})

layer(makeTestServer({ ROOT_PATH: PREFIX }), { excludeTestServices: true, timeout: "60 seconds" })(
  "unknown query parameters under ROOT_PATH",
  (it) => {
    it.effect("are found the same on the prefixed path", () =>
      Effect.gen(function* () {
        const answer = yield* send("GET", `${PREFIX}/facilities?colour=red`)
        assert.deepStrictEqual(
          [answer.status, answer.warning],
          [200, '299 - "unknown query parameter ignored: colour"']
        )
      })
    )
  }
)

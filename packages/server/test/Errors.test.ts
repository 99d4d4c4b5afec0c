import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { NotFound, Unauthorized } from "@shum/domain/Errors"
import { Effect } from "effect"
import { client, TestServer } from "./support.js"

const PROBLEM = "application/problem+json"

const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const response = yield* http.execute(request)
    const text = yield* response.text
    return {
      status: response.status,
      headers: response.headers,
      body: text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>)
    }
  })

const json = (method: "POST" | "PUT" | "PATCH", url: string, body: string) =>
  HttpClientRequest.make(method)(url).pipe(HttpClientRequest.bodyText(body, "application/json"))

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("error envelope", (it) => {
  it.effect("an unknown path is a 404 problem with the original's `Not Found`", () =>
    Effect.gen(function* () {
      const { body, headers, status } = yield* send(HttpClientRequest.get("/nowhere"))
      assert.strictEqual(status, 404)
      assert.include(headers["content-type"], PROBLEM)
      assert.deepStrictEqual(body, {
        type: "/problems/not-found",
        title: "Not Found",
        status: 404,
        detail: "Not Found"
      })
    })
  )

  it.effect("a known path with another method is a 405 with `Allow`", () =>
    Effect.gen(function* () {
      const { body, headers, status } = yield* send(HttpClientRequest.del("/health"))
      assert.strictEqual(status, 405)
      assert.strictEqual(headers["allow"], "GET")
      assert.strictEqual(body?.["detail"], "Method Not Allowed")
    })
  )

  it.effect("malformed JSON is a 422 json_invalid, before authentication", () =>
    Effect.gen(function* () {
      const { body, status } = yield* send(json("POST", "/bookings", '{"room_id": 1,'))
      assert.strictEqual(status, 422)
      const [issue] = body?.["detail"] as Array<{ type: string; loc: Array<unknown> }>
      assert.strictEqual(issue?.type, "json_invalid")
      assert.strictEqual(issue?.loc[0], "body")
    })
  )

  it.effect("a missing body is a 422 `missing` at loc [body]", () =>
    Effect.gen(function* () {
      const { body, status } = yield* send(HttpClientRequest.post("/auth/login"))
      assert.strictEqual(status, 422)
      assert.deepStrictEqual(body?.["detail"], [{ type: "missing", loc: ["body"], msg: "Field required", input: null }])
    })
  )

  it.effect("every validation problem of the request is reported, FastAPI style", () =>
    Effect.gen(function* () {
      const { body, status } = yield* send(
        json(
          "POST",
          "/auth/register",
          JSON.stringify({ email: "not-an-email", password: "short", first_name: 5, telegram_id: "x" })
        )
      )
      assert.strictEqual(status, 422)
      assert.strictEqual(body?.["type"], "/problems/validation-error")
      const detail = body?.["detail"] as Array<{ type: string; loc: Array<unknown>; msg: string; ctx?: unknown }>
      const byField = Object.fromEntries(detail.map((d) => [String(d.loc[1]), d]))
      assert.deepStrictEqual(Object.keys(byField).sort(), ["email", "first_name", "password", "telegram_id"])
      assert.strictEqual(byField["password"]?.type, "string_too_short")
      assert.deepStrictEqual(byField["password"]?.ctx, { min_length: 8 })
      assert.strictEqual(byField["first_name"]?.type, "string_type")
      assert.strictEqual(byField["telegram_id"]?.type, "int_parsing")
      assert.include(byField["email"]?.msg, "value is not a valid email address")
    })
  )

  it.effect("a non-integer path id is a 422 at loc [path, name]", () =>
    Effect.gen(function* () {
      const { body, status } = yield* send(HttpClientRequest.get("/hotels/abc"))
      assert.strictEqual(status, 422)
      const [issue] = body?.["detail"] as Array<{ type: string; loc: Array<unknown> }>
      assert.deepStrictEqual(issue?.loc, ["path", "hotel_id"])
      assert.strictEqual(issue?.type, "int_parsing")
    })
  )

  it.effect("out-of-range pagination is a 422 at loc [query, per_page]", () =>
    Effect.gen(function* () {
      const { body, status } = yield* send(HttpClientRequest.get("/hotels?per_page=21&page=0"))
      assert.strictEqual(status, 422)
      const detail = body?.["detail"] as Array<{ type: string; loc: Array<unknown> }>
      assert.sameDeepMembers(
        detail.map((d) => [d.loc.join("."), d.type]),
        [
          ["query.per_page", "less_than_equal"],
          ["query.page", "greater_than_equal"]
        ]
      )
    })
  )

  it.effect("a repeated query parameter is a 422 at loc [query, name], never at the body", () =>
    Effect.gen(function* () {
      const { body, status } = yield* send(HttpClientRequest.get("/hotels?page=1&page=2"))
      assert.strictEqual(status, 422)
      const detail = body?.["detail"] as Array<{ type: string; loc: Array<unknown> }>
      assert.deepStrictEqual(
        detail.map((d) => d.loc.join(".")),
        ["query.page"]
      )
    })
  )

  it.effect("no credentials on a protected endpoint: 401 E-01 with WWW-Authenticate, decoded by the typed client", () =>
    Effect.gen(function* () {
      const { headers, status } = yield* send(HttpClientRequest.get("/auth/me"))
      assert.strictEqual(status, 401)
      assert.strictEqual(headers["www-authenticate"], "Bearer")
      const api = yield* client
      const error = yield* Effect.flip(api.auth.me())
      assert.deepStrictEqual(error, new Unauthorized({ detail: "Токен доступа не предоставлен" }))
    })
  )

  it.effect("X-Request-Id: echoed when sane, generated otherwise, on errors too", () =>
    Effect.gen(function* () {
      const echoed = yield* send(
        HttpClientRequest.get("/health").pipe(HttpClientRequest.setHeader("x-request-id", "abc-123"))
      )
      assert.strictEqual(echoed.headers["x-request-id"], "abc-123")
      const generated = yield* send(
        HttpClientRequest.get("/nowhere").pipe(HttpClientRequest.setHeader("x-request-id", "bad id with spaces"))
      )
      assert.match(generated.headers["x-request-id"] ?? "", /^[0-9a-f-]{36}$/)
    })
  )

  it.effect("the typed client decodes problem documents back into the domain's errors", () =>
    Effect.gen(function* () {
      const api = yield* client
      const error = yield* Effect.flip(api.users.get({ path: { user_id: 1 } }))
      assert.instanceOf(error, Unauthorized)
      assert.notInstanceOf(error, NotFound)
    })
  )

  it.effect("/openapi.json declares all 69 operations, with no leftover HttpApiDecodeError", () =>
    Effect.gen(function* () {
      const { body, status } = yield* send(HttpClientRequest.get("/openapi.json"))
      assert.strictEqual(status, 200)
      const paths = body?.["paths"] as Record<string, Record<string, unknown>>
      const operations = Object.entries(paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)
      )
      assert.strictEqual(operations.length, 69)
      assert.notInclude(JSON.stringify(body), "HttpApiDecodeError")
      assert.deepStrictEqual(Object.keys(paths).slice(0, 5), [
        "/health",
        "/health/detailed",
        "/live",
        "/ready",
        "/metrics"
      ])
    })
  )
})

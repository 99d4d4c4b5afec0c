/**
 * The HTTP pipeline against hostile requests (docs/decisions.md D11, D12, D14), on the real server over its
 * own database: exact routing, the security headers on every kind of answer, `no-store` on token answers,
 * request bodies bounded before they are buffered, the nesting limit, and 422s that echo little and never a
 * password. Requests go out through `node:http` so that paths and bodies reach the server byte for byte.
 */
import { HttpServer } from "@effect/platform"
import { assert, describe, it as plain, layer } from "@effect/vitest"
import { Messages } from "@shum/domain/Messages"
import { Effect } from "effect"
import { request as httpRequest } from "node:http"
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { afterAll } from "vitest"
import { excessiveNestingAt } from "../src/Http/JsonBody.js"
import { boundIssues } from "../src/Http/Validation.js"
import { imageDirPath, removeDir } from "../../worker/test/ImageFixtures.js"
import { streamBody } from "./StreamedBody.js"
import { makeTestServer, signIn, uniqueEmail } from "./support.js"

const dir = imageDirPath()
afterAll(() => removeDir(dir))

interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | Array<string> | undefined>>
  readonly body: string
}

/** One request with the path and body exactly as given. */
const raw = (
  port: number,
  method: string,
  path: string,
  options: { readonly headers?: Record<string, string>; readonly body?: string | Buffer } = {}
) =>
  Effect.promise(
    () =>
      new Promise<Answer>((resolve, reject) => {
        const request = httpRequest({ host: "127.0.0.1", port, method, path, headers: options.headers ?? {} })
        request.on("response", (response) => {
          let body = ""
          response.setEncoding("utf8")
          response.on("data", (chunk: string) => (body += chunk))
          response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }))
        })
        request.on("error", reject)
        request.end(options.body)
      })
  )

const portOf = Effect.map(HttpServer.HttpServer, (server) => (server.address as { port: number }).port)

const jsonHeaders = { "content-type": "application/json" }

/**
 * Streams `total` bytes of a JSON-looking body (chunked, or with `contentLength` declared) and stops as soon
 * as an answer arrives: how much was sent by then tells whether the server read it all.
 */
const streamJsonBody = (port: number, path: string, total: number, contentLength?: number) =>
  Effect.promise(() =>
    streamBody({
      port,
      path,
      headers: {
        "content-type": "application/json",
        ...(contentLength === undefined ? {} : { "content-length": String(contentLength) })
      },
      head: '{"email": "a@example.com", "password": "',
      fill: 0x61,
      tail: '"}',
      total,
      headersOnly: contentLength !== undefined && total === 0
    })
  )

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`

type Issue = { type: string; loc: Array<string | number>; msg: string; input?: unknown; ctx?: Record<string, unknown> }
const issuesOf = (answer: Answer): Array<Issue> => (JSON.parse(answer.body) as { detail: Array<Issue> }).detail

const assertSecurityHeaders = (answer: Answer, what: string) => {
  assert.strictEqual(answer.headers["x-content-type-options"], "nosniff", what)
  assert.strictEqual(answer.headers["referrer-policy"], "no-referrer", what)
}

layer(makeTestServer({ IMAGE_DIR: dir }), { excludeTestServices: true, timeout: "120 seconds" })(
  "HTTP pipeline: routing and headers",
  (it) => {
    it.effect("paths match exactly: another letter case or a doubled slash is a 404 (D12)", () =>
      Effect.gen(function* () {
        const port = yield* portOf
        const login = JSON.stringify({ email: uniqueEmail(), password: "password123" })
        const cases: ReadonlyArray<readonly [method: string, path: string]> = [
          ["POST", "/AUTH/LOGIN"],
          ["POST", "/Auth/Login"],
          ["POST", "//auth/login"],
          ["POST", "/auth//login"],
          ["POST", "/AUTH/REGISTER"],
          ["POST", "/auth/login;jsessionid=1"],
          ["GET", "/countries;x"],
          ["GET", "/health#x"],
          ["GET", "/HOTELS"],
          ["GET", "//hotels"],
          ["GET", "/hotels//1"],
          ["GET", "/Countries"],
          ["GET", "/Health"],
          ["GET", "/METRICS"],
          ["GET", "//metrics"],
          ["GET", "/OPENAPI.JSON"],
          ["GET", "/Docs"],
          ["GET", "/STATIC/IMAGES/x.jpg"]
        ]
        for (const [method, path] of cases) {
          const answer = yield* raw(port, method, path, method === "POST" ? { headers: jsonHeaders, body: login } : {})
          assert.strictEqual(answer.status, 404, `${method} ${path}: ${answer.body}`)
          assert.deepStrictEqual(JSON.parse(answer.body), {
            type: "/problems/not-found",
            title: "Not Found",
            status: 404,
            detail: "Not Found"
          })
        }
        // the exact paths still answer, and a trailing slash is still a 307 to the path without it
        assert.strictEqual((yield* raw(port, "POST", "/auth/login", { headers: jsonHeaders, body: login })).status, 401)
        assert.strictEqual((yield* raw(port, "GET", "/countries")).status, 200)
        const redirect = yield* raw(port, "GET", "/countries/?page=1")
        assert.deepStrictEqual([redirect.status, redirect.headers["location"]], [307, "/countries?page=1"])
      })
    )

    it.effect("every kind of answer carries nosniff and Referrer-Policy (D14)", () =>
      Effect.gen(function* () {
        const port = yield* portOf
        yield* Effect.promise(async () => {
          await mkdir(dir, { recursive: true })
          await writeFile(join(dir, "sample.jpg"), Buffer.from([0xff, 0xd8, 0xff, 0xd9]))
        })
        const countries = yield* raw(port, "GET", "/countries")
        const etag = String(countries.headers["etag"])
        const samples: ReadonlyArray<readonly [what: string, answer: Answer, status: number]> = [
          ["a JSON answer", countries, 200],
          ["a 304", yield* raw(port, "GET", "/countries", { headers: { "if-none-match": etag } }), 304],
          ["a 404", yield* raw(port, "GET", "/nowhere"), 404],
          ["a 405", yield* raw(port, "DELETE", "/health"), 405],
          ["a 401", yield* raw(port, "GET", "/auth/me"), 401],
          ["a 422", yield* raw(port, "POST", "/auth/login", { headers: jsonHeaders, body: "{}" }), 422],
          ["a 422 json_invalid", yield* raw(port, "POST", "/auth/login", { headers: jsonHeaders, body: "{" }), 422],
          ["a 307", yield* raw(port, "GET", "/hotels/"), 307],
          ["a preflight without CORS", yield* raw(port, "OPTIONS", "/hotels"), 405],
          ["/health", yield* raw(port, "GET", "/health"), 200],
          ["/metrics", yield* raw(port, "GET", "/metrics"), 200],
          ["/openapi.json", yield* raw(port, "GET", "/openapi.json"), 200],
          ["/docs", yield* raw(port, "GET", "/docs"), 200],
          ["/redoc", yield* raw(port, "GET", "/redoc"), 200],
          ["an image file", yield* raw(port, "GET", "/static/images/sample.jpg"), 200],
          ["a missing image file", yield* raw(port, "GET", "/static/images/none.jpg"), 404]
        ]
        for (const [what, answer, status] of samples) {
          assert.strictEqual(answer.status, status, what)
          assertSecurityHeaders(answer, what)
        }
      })
    )

    it.effect("token answers are never stored: sign-in and refresh carry Cache-Control: no-store (D14)", () =>
      Effect.gen(function* () {
        const port = yield* portOf
        const user = yield* signIn()
        const login = yield* raw(port, "POST", "/auth/login", {
          headers: jsonHeaders,
          body: JSON.stringify({ email: user.email, password: user.password })
        })
        assert.strictEqual(login.status, 200)
        assert.strictEqual(login.headers["cache-control"], "no-store")
        const { refresh_token } = JSON.parse(login.body) as { refresh_token: string }
        const refreshed = yield* raw(port, "POST", "/auth/refresh", {
          headers: jsonHeaders,
          body: JSON.stringify({ refresh_token })
        })
        assert.strictEqual(refreshed.status, 200)
        assert.strictEqual(refreshed.headers["cache-control"], "no-store")
        const refused = yield* raw(port, "POST", "/auth/login", {
          headers: jsonHeaders,
          body: JSON.stringify({ email: user.email, password: "wrong-password" })
        })
        assert.deepStrictEqual([refused.status, refused.headers["cache-control"]], [401, "no-store"])
        assertSecurityHeaders(login, "sign-in")
        // an answer without tokens keeps its own caching (none here)
        const me = yield* raw(port, "GET", "/auth/me", { headers: { authorization: `Bearer ${user.token}` } })
        assert.deepStrictEqual([me.status, me.headers["cache-control"]], [200, undefined])
      })
    )
  }
)

layer(makeTestServer(), { excludeTestServices: true, timeout: "120 seconds" })(
  "HTTP pipeline: bounded bodies and 422s (D11)",
  (it) => {
    it.effect("a 100 MB body is a 413 read no further than the limit; the process lives on", () =>
      Effect.gen(function* () {
        const port = yield* portOf
        const total = 100 * 1024 * 1024
        const heapBefore = process.memoryUsage().heapUsed
        const started = Date.now()
        const answer = yield* streamJsonBody(port, "/auth/login", total)
        assert.strictEqual(answer.status, 413, answer.body)
        assert.deepStrictEqual(JSON.parse(answer.body), {
          type: "/problems/payload-too-large",
          title: "Payload Too Large",
          status: 413,
          detail: Messages.bodyTooLarge(1024)
        })
        assert.include(String(answer.headers["content-type"]), "application/problem+json")
        assert.strictEqual(answer.headers["connection"], "close")
        assertSecurityHeaders(answer, "413")
        assert.isBelow(answer.sent, total / 4, "the answer came long before the body ended")
        assert.isBelow(Date.now() - started, 20_000)
        assert.isBelow(process.memoryUsage().heapUsed - heapBefore, 64 * 1024 * 1024, "the body was not buffered")
        assert.strictEqual((yield* raw(port, "GET", "/health")).status, 200)
      })
    )

    it.effect("a Content-Length above the limit is a 413 before any byte of the body is read", () =>
      Effect.gen(function* () {
        const port = yield* portOf
        const answer = yield* streamJsonBody(port, "/auth/register", 0, 100 * 1024 * 1024)
        assert.strictEqual(answer.status, 413)
        assert.strictEqual((JSON.parse(answer.body) as { detail: string }).detail, Messages.bodyTooLarge(1024))
        assert.strictEqual(answer.sent, 0)
      })
    )

    it.effect("the limit is exact: 1024 KiB passes, one byte more is a 413, on any endpoint and content type", () =>
      Effect.gen(function* () {
        const port = yield* portOf
        const login = JSON.stringify({ email: uniqueEmail(), password: "password123" })
        const padded = (size: number) => `${login}${" ".repeat(size - login.length)}`
        const atLimit = yield* raw(port, "POST", "/auth/login", { headers: jsonHeaders, body: padded(1024 * 1024) })
        assert.strictEqual(atLimit.status, 401, atLimit.body)
        const over = yield* raw(port, "POST", "/auth/login", { headers: jsonHeaders, body: padded(1024 * 1024 + 1) })
        assert.strictEqual(over.status, 413)
        // a body the API would buffer whatever it is declared as, and on a path that does not exist
        const text = yield* raw(port, "PUT", "/hotels/1", {
          headers: { "content-type": "text/plain" },
          body: "x".repeat(1024 * 1024 + 1)
        })
        assert.strictEqual(text.status, 413)
        const unknown = yield* raw(port, "POST", "/nowhere", { headers: jsonHeaders, body: padded(1024 * 1024 + 1) })
        assert.strictEqual(unknown.status, 413)
      })
    )

    it.effect("JSON nested 64 levels is read, 65 or 100,000 levels is a 422 json_too_deep, never a 500", () =>
      Effect.gen(function* () {
        const port = yield* portOf
        // the body object is level 1: 63 arrays inside it make 64 levels
        const deepest = yield* raw(port, "POST", "/auth/login", {
          headers: jsonHeaders,
          body: `{"email": ${nested(63)}, "password": "password123"}`
        })
        assert.strictEqual(deepest.status, 422)
        assert.deepStrictEqual(
          issuesOf(deepest).map((i) => [i.type, i.loc]),
          [["string_type", ["body", "email"]]]
        )
        for (const depth of [64, 100_000]) {
          const started = Date.now()
          const answer = yield* raw(port, "POST", "/auth/login", {
            headers: jsonHeaders,
            body: `{"email": ${nested(depth)}, "password": "password123"}`
          })
          assert.strictEqual(answer.status, 422, `${depth}: ${answer.body.slice(0, 300)}`)
          assert.deepStrictEqual(issuesOf(answer), [
            {
              type: "json_too_deep",
              loc: ["body", 10 + 64 - 1],
              msg: "JSON nested deeper than 64 levels",
              input: {},
              ctx: { max_depth: 64 }
            }
          ])
          assert.isBelow(Date.now() - started, 10_000)
        }
        // at the top level too, on every endpoint that reads a body, authenticated or not
        for (const path of ["/auth/register", "/auth/refresh", "/bookings", "/hotels"]) {
          const answer = yield* raw(port, "POST", path, { headers: jsonHeaders, body: nested(100_000) })
          assert.strictEqual(answer.status, 422, path)
          assert.strictEqual(issuesOf(answer)[0]?.type, "json_too_deep", path)
        }
        assert.strictEqual((yield* raw(port, "GET", "/health")).status, 200)
      })
    )

    it.effect("a 422 echoes at most 200 characters of an input, cut with …", () =>
      Effect.gen(function* () {
        const port = yield* portOf
        const answer = yield* raw(port, "POST", "/auth/register", {
          headers: jsonHeaders,
          body: JSON.stringify({
            email: { nested: "y".repeat(5000) },
            password: "password123",
            first_name: "x".repeat(100_000),
            last_name: "1".repeat(300)
          })
        })
        assert.strictEqual(answer.status, 422)
        assert.isBelow(answer.body.length, 4000)
        const byField = Object.fromEntries(issuesOf(answer).map((i) => [String(i.loc[1]), i]))
        assert.strictEqual(byField["first_name"]?.type, "string_too_long")
        assert.strictEqual(byField["first_name"]?.input, `${"x".repeat(200)}…`)
        assert.strictEqual(byField["last_name"]?.input, `${"1".repeat(200)}…`)
        // an object too long to echo is echoed as the start of its JSON text
        const email = byField["email"]?.input
        assert.strictEqual(email, `${`{"nested":"${"y".repeat(5000)}`.slice(0, 200)}…`)
        // a short input is echoed as it came
        const short = yield* raw(port, "POST", "/auth/register", {
          headers: jsonHeaders,
          body: JSON.stringify({ email: uniqueEmail(), password: "password123", first_name: 5 })
        })
        assert.deepStrictEqual(
          issuesOf(short).map((i) => [i.loc, i.input]),
          [[["body", "first_name"], 5]]
        )
      })
    )

    it.effect("a 422 never shows a password: no input at a password field, nor the value anywhere", () =>
      Effect.gen(function* () {
        const port = yield* portOf
        const secret = "hunter2-secret-value"
        // too short, too long, not a string: the issue is reported without its input
        for (const password of ["short", "p".repeat(600_000), { value: secret }]) {
          const answer = yield* raw(port, "POST", "/auth/register", {
            headers: jsonHeaders,
            body: JSON.stringify({ email: uniqueEmail(), password })
          })
          assert.strictEqual(answer.status, 422)
          assert.isBelow(answer.body.length, 2000)
          const [issue] = issuesOf(answer).filter((i) => i.loc[1] === "password")
          assert.isDefined(issue)
          assert.notProperty(issue, "input")
          assert.notInclude(answer.body, secret)
        }
        // the parent object echoed for a missing field leaves the password out
        const missing = yield* raw(port, "POST", "/auth/login", {
          headers: jsonHeaders,
          body: JSON.stringify({ password: secret, remember: true })
        })
        assert.strictEqual(missing.status, 422)
        assert.deepStrictEqual(issuesOf(missing), [
          { type: "missing", loc: ["body", "email"], msg: "Field required", input: { remember: true } }
        ])
        // malformed JSON: JSON.parse's message quotes the text around the error; not here
        const malformed = yield* raw(port, "POST", "/auth/login", {
          headers: jsonHeaders,
          body: `{"email": "a@example.com", "password": ${secret}}`
        })
        assert.strictEqual(malformed.status, 422)
        assert.strictEqual(issuesOf(malformed)[0]?.type, "json_invalid")
        assert.notInclude(malformed.body, "hunter2")
      })
    )
  }
)

describe("what a 422 may echo", () => {
  plain("boundIssues cuts inputs, drops password inputs and hides the request's passwords everywhere", () => {
    const [long, password, quoted, nestedSecret, small] = boundIssues(
      [
        { type: "string_too_long", loc: ["body", "name"], msg: "too long", input: "é".repeat(300) },
        { type: "string_too_short", loc: ["body", "new_password"], msg: "short", input: "abc", ctx: { min: 8 } },
        { type: "value_error", loc: ["header", "idempotency-key"], msg: "bad 'sesame-42' value", input: "sesame-42" },
        { type: "missing", loc: ["body", "a"], msg: "Field required", input: { b: { password: "x", c: 1 } } },
        { type: "int_type", loc: ["query", "page"], msg: "Input should be a valid integer", input: 3 }
      ],
      ["sesame-42"]
    )
    assert.strictEqual(long?.input, `${"é".repeat(200)}…`)
    assert.deepStrictEqual(password, {
      type: "string_too_short",
      loc: ["body", "new_password"],
      msg: "short",
      ctx: { min: 8 }
    })
    assert.deepStrictEqual([quoted?.msg, quoted?.input], ["bad '***' value", "***"])
    assert.deepStrictEqual(nestedSecret?.input, { b: { c: 1 } })
    assert.strictEqual(small?.input, 3)
    // a surrogate pair is never cut in half
    const [emoji] = boundIssues([{ type: "t", loc: ["body"], msg: "m", input: `${"a".repeat(199)}😀😀` }])
    assert.strictEqual(emoji?.input, `${"a".repeat(199)}…`)
  })

  plain("the nesting scan counts arrays and objects, not brackets inside strings", () => {
    assert.strictEqual(excessiveNestingAt(nested(64)), -1)
    assert.strictEqual(excessiveNestingAt(nested(65)), 64)
    assert.strictEqual(excessiveNestingAt(`{"a": "${"[".repeat(100)}\\"[[["}`), -1)
    assert.strictEqual(excessiveNestingAt(`${'{"a":'.repeat(65)}1${"}".repeat(65)}`), 5 * 64)
  })
})

/**
 * `withHeaders` (`Http/ResponseHeaders.ts`) gives the response `HttpServerResponse.setHeaders` gives: the same
 * status and status text, the same headers (names, values, order, and whether they are a `Headers` object), the
 * same cookies and body — for every kind of body the app answers with, headers it replaces and headers it adds.
 */
import "./fakes/NoNetwork.js"
import * as Headers from "@effect/platform/Headers"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { withHeaders } from "../../src/Http/ResponseHeaders.js"

const ADDED = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-request-id": "r-1"
}

const responses = (): ReadonlyArray<readonly [string, HttpServerResponse.HttpServerResponse]> => [
  [
    "bytes",
    HttpServerResponse.uint8Array(new TextEncoder().encode('{"status":"ok"}'), { contentType: "application/json" })
  ],
  ["json", HttpServerResponse.unsafeJson({ a: 1 }, { status: 201, headers: { location: "/x/1" } })],
  ["text with a status text", HttpServerResponse.text("hi", { status: 418, statusText: "Teapot" })],
  [
    "problem with a header it replaces",
    HttpServerResponse.unsafeJson(
      { type: "about:blank" },
      {
        status: 401,
        contentType: "application/problem+json",
        headers: { "www-authenticate": "Bearer", "x-request-id": "old" }
      }
    )
  ],
  ["empty", HttpServerResponse.empty({ status: 204 })],
  ["redirect", HttpServerResponse.redirect("/docs/", { status: 307 })],
  ["stream with a length", HttpServerResponse.stream(Stream.make(new Uint8Array([1])), { contentLength: 1 })],
  ["stream without", HttpServerResponse.stream(Stream.make(new Uint8Array([1])), { contentType: "text/plain" })],
  [
    "cookies",
    HttpServerResponse.unsafeSetCookie(HttpServerResponse.text("c"), "session", "v", { httpOnly: true, path: "/" })
  ]
]

describe("withHeaders", () => {
  for (const [name, response] of responses()) {
    it.effect(`${name}: the response setHeaders gives`, () =>
      Effect.sync(() => {
        const expected = HttpServerResponse.setHeaders(response, ADDED)
        const actual = withHeaders(response, ADDED)
        assert.isTrue(HttpServerResponse.isServerResponse(actual))
        assert.strictEqual(actual.status, expected.status)
        assert.strictEqual(actual.statusText, expected.statusText)
        assert.deepStrictEqual(Object.entries(actual.headers), Object.entries(expected.headers))
        assert.strictEqual(Headers.isHeaders(actual.headers), Headers.isHeaders(expected.headers))
        assert.strictEqual(actual.cookies, expected.cookies)
        assert.strictEqual(actual.body, expected.body)
        // the response it was given is left as it was
        assert.notStrictEqual(response.headers["x-request-id"], "r-1")
      })
    )
  }

  it.effect("a second call on its answer replaces, as setHeaders does", () =>
    Effect.sync(() => {
      const [, response] = responses()[0]!
      const once = withHeaders(response, ADDED)
      const twice = withHeaders(once, { "x-request-id": "r-2", etag: '"e"' })
      const expected = HttpServerResponse.setHeaders(HttpServerResponse.setHeaders(response, ADDED), {
        "x-request-id": "r-2",
        etag: '"e"'
      })
      assert.deepStrictEqual(Object.entries(twice.headers), Object.entries(expected.headers))
      assert.strictEqual(once.headers["x-request-id"], "r-1")
    })
  )
})

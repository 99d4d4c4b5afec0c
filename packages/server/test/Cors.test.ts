import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { makeTestServer, TestServer } from "./support.js"

const APP = "https://app.example.com"

const preflight = (origin: string) =>
  HttpClientRequest.make("OPTIONS")("/hotels").pipe(
    HttpClientRequest.setHeaders({
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type"
    })
  )

layer(makeTestServer({ CORS_ORIGINS: `${APP},https://admin.example.com` }), { excludeTestServices: true })(
  "CORS with CORS_ORIGINS set",
  (it) => {
    it.effect("an allowed origin gets its preflight answered and the headers on responses (credentials, exposed)", () =>
      Effect.gen(function* () {
        const http = yield* HttpClient.HttpClient
        const pre = yield* http.execute(preflight(APP))
        assert.isBelow(pre.status, 300)
        assert.strictEqual(pre.headers["access-control-allow-origin"], APP)
        assert.strictEqual(pre.headers["access-control-allow-credentials"], "true")
        assert.include(pre.headers["access-control-allow-methods"] ?? "", "POST")
        assert.include((pre.headers["access-control-allow-headers"] ?? "").toLowerCase(), "authorization")
        // answered before the app runs, it still carries the security headers (D14)
        assert.strictEqual(pre.headers["x-content-type-options"], "nosniff")
        assert.strictEqual(pre.headers["referrer-policy"], "no-referrer")
        const get = yield* http.execute(
          HttpClientRequest.get("/health").pipe(HttpClientRequest.setHeader("origin", APP))
        )
        assert.strictEqual(get.headers["access-control-allow-origin"], APP)
        assert.include(get.headers["access-control-expose-headers"] ?? "", "X-Request-Id")
      })
    )

    it.effect("another origin gets no Access-Control-Allow-Origin", () =>
      Effect.gen(function* () {
        const http = yield* HttpClient.HttpClient
        const pre = yield* http.execute(preflight("https://evil.example.com"))
        assert.isUndefined(pre.headers["access-control-allow-origin"])
        const get = yield* http.execute(
          HttpClientRequest.get("/health").pipe(HttpClientRequest.setHeader("origin", "https://evil.example.com"))
        )
        assert.isUndefined(get.headers["access-control-allow-origin"])
      })
    )
  }
)

layer(TestServer, { excludeTestServices: true })("CORS by default (none, as the original)", (it) => {
  it.effect("no Access-Control-* headers; a preflight OPTIONS is a 405", () =>
    Effect.gen(function* () {
      const http = yield* HttpClient.HttpClient
      const pre = yield* http.execute(preflight(APP))
      assert.strictEqual(pre.status, 405)
      assert.isUndefined(pre.headers["access-control-allow-origin"])
      const get = yield* http.execute(HttpClientRequest.get("/health").pipe(HttpClientRequest.setHeader("origin", APP)))
      assert.isUndefined(get.headers["access-control-allow-origin"])
    })
  )
})

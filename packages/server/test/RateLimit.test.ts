/**
 * The rate limiter (D4, docs/api.md §5.1) against the machine's Redis: the sliding window itself, then the
 * HTTP behaviour — limits, headers, per-path and per-client keys, trusted and untrusted
 * `X-Forwarded-For`, two servers sharing one limit, and fail-open when a private Redis is killed.
 */
import { HttpClient, HttpClientRequest, type HttpClientResponse, HttpServer } from "@effect/platform"
import { assert, describe, it, layer } from "@effect/vitest"
import type { RedisConnection } from "@shum/infra/Config"
import { Redis } from "@shum/infra/Redis"
import { randomName, redisConnection } from "@shum/infra/Testing"
import { Context, Duration, Effect, Layer, Redacted, TestClock } from "effect"
import { RateLimiter, RateLimiterMemory, RateLimiterRedis } from "../src/RateLimit/RateLimiter.js"
import { InProcessServicesLive, RedisServicesLive } from "../src/Services.js"
import { HEARTBEATS_KEY } from "@shum/infra/ImageJobs"
import * as http from "node:http"
import { captureLogs, parseMetrics, privateRedis, randomIp, requestFrom } from "./OpsSupport.js"
import { makeTestServer } from "./support.js"

const prefix = `${randomName("shum-test-rl:")}:`
const RedisLimiter = RateLimiterRedis({ prefix }).pipe(Layer.provide(Redis.layer(redisConnection)))

const ENV = {
  RATE_LIMIT_ENABLED_IN_TESTS: "true",
  RATE_LIMIT_PER_MINUTE: "8",
  RATE_LIMIT_AUTH_PER_MINUTE: "3"
}
// the in-process services, but the limiter on the real Redis (the right-hand layer wins)
const services = Layer.merge(InProcessServicesLive, RedisLimiter)

const header = (response: HttpClientResponse.HttpClientResponse, name: string) => response.headers[name]

const json = (body: unknown) => (request: HttpClientRequest.HttpClientRequest) =>
  HttpClientRequest.bodyUnsafeJson(request, body)

describe("RateLimiter (sliding window)", () => {
  const contract = (wait: (ms: number) => Effect.Effect<void>) =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter
      const key = randomName("k")
      const policy = [{ key, limit: 2 }] as const
      const first = yield* limiter.consume(policy, "1 second")
      assert.isTrue(first.allowed)
      assert.strictEqual(first.binding.remaining, 1)
      assert.isTrue((yield* limiter.consume(policy, "1 second")).allowed)
      const denied = yield* limiter.consume(policy, "1 second")
      assert.isFalse(denied.allowed)
      assert.strictEqual(denied.binding.remaining, 0)
      assert.isAbove(denied.retryAfterMs, 0)
      assert.isAtMost(denied.retryAfterMs, 1000)
      yield* wait(denied.retryAfterMs + 20)
      const again = yield* limiter.consume(policy, "1 second")
      assert.isTrue(again.allowed, "the window moved on")

      // several keys: counted in all of them, or in none when one is exhausted
      const tight = { key: randomName("tight"), limit: 1 }
      const loose = { key: randomName("loose"), limit: 5 }
      assert.isTrue((yield* limiter.consume([tight, loose], "1 minute")).allowed)
      const refused = yield* limiter.consume([tight, loose], "1 minute")
      assert.isFalse(refused.allowed)
      assert.strictEqual(refused.binding.limit, 1)
      const alone = yield* limiter.consume([loose], "1 minute")
      assert.strictEqual(alone.binding.remaining, 3, "the refused check did not count in the loose key")
    })

  it.live("Redis: limits, frees the window, counts several keys atomically", () =>
    contract((ms) => Effect.sleep(Duration.millis(ms))).pipe(Effect.provide(RedisLimiter))
  )

  it.effect("memory: the same contract on the Effect clock", () =>
    contract((ms) => TestClock.adjust(Duration.millis(ms))).pipe(Effect.provide(RateLimiterMemory))
  )
})

layer(makeTestServer(ENV, { services }), { excludeTestServices: true, timeout: "90 seconds" })(
  "rate limit middleware (Redis)",
  (it) => {
    it.effect("allowed answers carry RateLimit-*; past the limit a 429 problem with Retry-After", () =>
      Effect.gen(function* () {
        const client = randomIp()
        for (let i = 1; i <= 8; i++) {
          const response = yield* requestFrom(client, HttpClientRequest.get("/countries"))
          assert.strictEqual(response.status, 200)
          assert.strictEqual(header(response, "ratelimit-limit"), "8")
          assert.strictEqual(header(response, "ratelimit-remaining"), String(8 - i))
          const reset = Number(header(response, "ratelimit-reset"))
          assert.isTrue(reset >= 1 && reset <= 60, `reset ${reset}`)
        }
        const refused = yield* requestFrom(client, HttpClientRequest.get("/countries"))
        assert.strictEqual(refused.status, 429)
        assert.include(header(refused, "content-type"), "application/problem+json")
        assert.deepStrictEqual(yield* refused.json, {
          type: "/problems/rate-limited",
          title: "Too Many Requests",
          status: 429,
          error: "Rate limit exceeded: 8 per 1 minute",
          detail: "Rate limit exceeded: 8 per 1 minute"
        })
        const retryAfter = Number(header(refused, "retry-after"))
        assert.isTrue(retryAfter >= 1 && retryAfter <= 60, `retry-after ${retryAfter}`)
        assert.strictEqual(header(refused, "ratelimit-limit"), "8")
        assert.strictEqual(header(refused, "ratelimit-remaining"), "0")
        assert.isDefined(header(refused, "x-request-id"))
        // unknown paths count too: still refused
        assert.strictEqual((yield* requestFrom(client, HttpClientRequest.get("/nowhere"))).status, 429)
      })
    )

    it.effect("a created answer's headers in order: the pipeline's, then RateLimit-*, then Location last", () =>
      Effect.gen(function* () {
        // the raw head, as the client reads it (the headers set after the pipeline's own, in the order set:
        // `setLaterHeaders`, bench/README.md "Issue 18 and 19, fourth pass")
        const server = yield* HttpServer.HttpServer
        const port = server.address._tag === "TcpAddress" ? server.address.port : 0
        const email = `${randomName("order")}@example.com`
        const { status, names, location } = yield* Effect.promise(
          () =>
            new Promise<{ status: number; names: Array<string>; location: string }>((resolve, reject) => {
              const body = JSON.stringify({ email, password: "password123" })
              const request = http.request(
                {
                  host: "127.0.0.1",
                  port,
                  method: "POST",
                  path: "/auth/register",
                  headers: { "content-type": "application/json", "x-forwarded-for": randomIp() }
                },
                (response) => {
                  response.resume()
                  const raw = response.rawHeaders
                  const names = raw.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase())
                  resolve({ status: response.statusCode ?? 0, names, location: response.headers.location ?? "" })
                }
              )
              request.on("error", reject)
              request.end(body)
            })
        )
        assert.strictEqual(status, 201)
        assert.match(location, /^\/users\/\d+$/)
        assert.deepStrictEqual(names.slice(0, 9), [
          "content-type",
          "content-length",
          "x-content-type-options",
          "referrer-policy",
          "x-request-id",
          "ratelimit-limit",
          "ratelimit-remaining",
          "ratelimit-reset",
          "location"
        ])
      })
    )

    it.effect("system endpoints are never limited and carry no RateLimit headers", () =>
      Effect.gen(function* () {
        const client = randomIp()
        for (let i = 0; i < 9; i++) yield* requestFrom(client, HttpClientRequest.get("/countries"))
        for (const path of ["/health", "/health/detailed", "/live", "/ready", "/metrics", "/openapi.json", "/docs"]) {
          for (let i = 0; i < 2; i++) {
            const response = yield* requestFrom(client, HttpClientRequest.get(path))
            assert.strictEqual(response.status, 200, path)
            assert.isUndefined(header(response, "ratelimit-limit"), path)
          }
        }
      })
    )

    it.effect("auth paths: per client and path; a 422 does not consume the auth quota", () =>
      Effect.gen(function* () {
        const client = randomIp()
        const refresh = HttpClientRequest.post("/auth/refresh").pipe(json({ refresh_token: "not-a-real-token" }))
        for (let i = 1; i <= 3; i++) {
          const response = yield* requestFrom(client, refresh)
          assert.strictEqual(response.status, 401)
          assert.strictEqual(header(response, "ratelimit-limit"), "3")
          assert.strictEqual(header(response, "ratelimit-remaining"), String(3 - i))
        }
        const refused = yield* requestFrom(client, refresh)
        assert.strictEqual(refused.status, 429)
        assert.strictEqual(((yield* refused.json) as { detail: string }).detail, "Rate limit exceeded: 3 per 1 minute")
        // an invalid body is answered 422, not refused: validation comes first and does not count
        const invalid = yield* requestFrom(client, HttpClientRequest.post("/auth/refresh").pipe(json({})))
        assert.strictEqual(invalid.status, 422)
        // another path has its own counter, another client its own quota
        const login = HttpClientRequest.post("/auth/login").pipe(
          json({ email: `${randomName("nobody")}@example.com`, password: "password123" })
        )
        assert.strictEqual((yield* requestFrom(client, login)).status, 401)
        assert.strictEqual((yield* requestFrom(randomIp(), refresh)).status, 401)
      })
    )

    it.effect("the auth limit is keyed by the route matched: no spelling of /auth/login escapes it (D12)", () =>
      Effect.gen(function* () {
        const client = randomIp()
        const body = json({ email: `${randomName("nobody")}@example.com`, password: "password123" })
        // other letter cases, a doubled slash, a `;` reach no handler: 404, counted by the general limit only
        for (const path of ["/AUTH/LOGIN", "/Auth/Login", "//auth/login", "/auth/login;x=1"]) {
          const response = yield* requestFrom(client, HttpClientRequest.post(path).pipe(body))
          assert.strictEqual(response.status, 404, path)
          assert.strictEqual(header(response, "ratelimit-limit"), "8", path)
        }
        // spellings the router does take to the login handler count on the login's key
        for (const path of ["/auth/%6Cogin", "/auth/%6cogin", "/auth/login"]) {
          const response = yield* requestFrom(client, HttpClientRequest.post(path).pipe(body))
          assert.strictEqual(response.status, 401, path)
          assert.strictEqual(header(response, "ratelimit-limit"), "3", path)
        }
        const refused = yield* requestFrom(client, HttpClientRequest.post("/auth/log%69n").pipe(body))
        assert.strictEqual(refused.status, 429)
        assert.strictEqual(((yield* refused.json) as { detail: string }).detail, "Rate limit exceeded: 3 per 1 minute")
      })
    )

    it.effect("X-Forwarded-For (from a trusted proxy) and X-Real-IP name the client", () =>
      Effect.gen(function* () {
        const exhausted = randomIp()
        for (let i = 0; i < 9; i++) yield* requestFrom(exhausted, HttpClientRequest.get("/countries"))
        assert.strictEqual((yield* requestFrom(exhausted, HttpClientRequest.get("/countries"))).status, 429)
        // the right-most address not ours is the client: a spoofed left-most entry changes nothing
        const spoofed = HttpClientRequest.get("/countries").pipe(
          HttpClientRequest.setHeader("x-forwarded-for", `${randomIp()}, ${exhausted}`)
        )
        assert.strictEqual((yield* (yield* HttpClient.HttpClient).execute(spoofed)).status, 429)
        const realIp = HttpClientRequest.get("/countries").pipe(HttpClientRequest.setHeader("x-real-ip", exhausted))
        assert.strictEqual((yield* (yield* HttpClient.HttpClient).execute(realIp)).status, 429)
        assert.strictEqual((yield* requestFrom(randomIp(), HttpClientRequest.get("/countries"))).status, 200)
      })
    )
  }
)

layer(makeTestServer({ ...ENV, TRUSTED_PROXIES: "10.0.0.0/8" }, { services }), {
  excludeTestServices: true,
  timeout: "90 seconds"
})("rate limit middleware, peer not a trusted proxy", (it) => {
  it.effect("X-Forwarded-For is ignored: every request counts for the TCP peer", () =>
    Effect.gen(function* () {
      const statuses: Array<number> = []
      for (let i = 0; i < 9; i++) {
        statuses.push((yield* requestFrom(randomIp(), HttpClientRequest.get("/countries"))).status)
      }
      assert.deepStrictEqual(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 429])
    })
  )
})

describe("rate limit across instances and Redis outages", () => {
  const clientOf = (context: Context.Context<HttpClient.HttpClient>) => Context.get(context, HttpClient.HttpClient)

  it.scopedLive(
    "two server instances share one limit",
    () =>
      Effect.gen(function* () {
        const a = clientOf(yield* Layer.build(makeTestServer(ENV, { services })))
        const b = clientOf(yield* Layer.build(makeTestServer(ENV, { services })))
        const client = randomIp()
        const statuses: Array<number> = []
        for (let i = 0; i < 10; i++) {
          const http = i % 2 === 0 ? a : b
          const response = yield* requestFrom(client, HttpClientRequest.get("/countries")).pipe(
            Effect.provideService(HttpClient.HttpClient, http)
          )
          statuses.push(response.status)
        }
        assert.deepStrictEqual(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 429, 429])
      }),
    { timeout: 90_000 }
  )

  it.scopedLive(
    "Redis down: requests pass, one warning, a metric, /health/detailed degraded",
    () =>
      Effect.gen(function* () {
        const redis = yield* privateRedis
        const connection: RedisConnection = { _tag: "Url", url: Redacted.make(redis.url) }
        // a worker heartbeat, so that before the outage nothing else makes the health degraded
        yield* Effect.flatMap(Redis, (r) => r.use((c) => c.zadd(HEARTBEATS_KEY, Date.now(), "worker@test"))).pipe(
          Effect.provide(Redis.layer(connection))
        )
        const logs = captureLogs()
        const server = yield* Layer.build(
          makeTestServer(
            { ...ENV, ENABLE_METRICS_IN_TESTS: "true" },
            { services: RedisServicesLive(connection), around: logs.layer }
          )
        )
        const run = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient>) =>
          Effect.provideService(effect, HttpClient.HttpClient, clientOf(server))
        const client = randomIp()
        const health = () =>
          run(Effect.flatMap(HttpClient.HttpClient, (http) => http.get("/health/detailed"))).pipe(
            Effect.flatMap((response) => response.json),
            Effect.map((body) => body as { status: string; redis: string })
          )

        const before = yield* run(requestFrom(client, HttpClientRequest.get("/countries")))
        assert.strictEqual(before.status, 200)
        assert.strictEqual(header(before, "ratelimit-limit"), "8")
        const healthy = yield* health()
        assert.strictEqual(healthy.status, "ok", JSON.stringify(healthy))
        assert.strictEqual(healthy.redis, "connected")

        yield* Effect.promise(() => redis.kill())
        for (let i = 0; i < 12; i++) {
          const response = yield* run(requestFrom(client, HttpClientRequest.get("/countries")))
          assert.strictEqual(response.status, 200, "fail-open: past the limit of 8 and still served")
          assert.isUndefined(header(response, "ratelimit-limit"))
        }
        const warnings = logs.entries().filter((e) => String(e["message"]).startsWith("rate limiter unavailable"))
        assert.strictEqual(warnings.length, 1, "logged once, not per request")
        const metrics = parseMetrics(
          yield* run(Effect.flatMap(HttpClient.HttpClient, (http) => http.get("/metrics"))).pipe(
            Effect.flatMap((response) => response.text)
          )
        )
        assert.isAtLeast(metrics.find("rate_limit_backend_errors_total")[0]?.value ?? 0, 12)
        const after = yield* health()
        assert.strictEqual(after.status, "degraded")
        assert.strictEqual(after.redis, "disconnected")
      }),
    { timeout: 90_000 }
  )
})

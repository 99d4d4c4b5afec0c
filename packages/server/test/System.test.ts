import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { NotReady } from "@shum/domain/SystemApi"
import { Effect } from "effect"
import { Lifecycle } from "../src/Lifecycle.js"
import { client, makeTestServer, TestDatabaseName, TestServer, withAdminClient } from "./support.js"

const NAIVE_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?$/

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("system endpoints", (it) => {
  it.effect("/health answers ok without checking anything", () =>
    Effect.gen(function* () {
      const api = yield* client
      const [body, response] = yield* api.system.health({ withResponse: true })
      assert.deepStrictEqual({ ...body }, { status: "ok" })
      assert.strictEqual(response.status, 200)
      assert.include(response.headers["content-type"], "application/json")
    })
  )

  it.effect("/live and /ready report with a naive timestamp", () =>
    Effect.gen(function* () {
      const api = yield* client
      const live = yield* api.system.live()
      assert.isTrue(live.alive)
      assert.match(live.timestamp, NAIVE_ISO)
      const ready = yield* api.system.ready()
      assert.isTrue(ready.ready)
      assert.match(ready.timestamp, NAIVE_ISO)
    })
  )

  it.effect("/health/detailed reports the database, Redis (in-process here), workers, disk and limits", () =>
    Effect.gen(function* () {
      const api = yield* client
      const health = yield* api.system.healthDetailed()
      assert.strictEqual(health.database, "connected")
      assert.strictEqual(health.redis, "in-process")
      assert.strictEqual(health.status, "degraded") // no worker heartbeat in this test
      assert.strictEqual(health.version, "1.0.0")
      assert.deepStrictEqual(health.celery, {
        status: "no_workers",
        message: "Celery broker доступен, но workers не отвечают"
      })
      assert.deepStrictEqual(health.rate_limiting, {
        enabled: false,
        api_limit_per_minute: 60,
        auth_limit_per_minute: 5
      })
      if (health.disk.status === "error") assert.fail(health.disk.error)
      assert.isAbove(health.disk.total_gb, 0)
      assert.strictEqual(health.disk.min_free_percent, 10)
    })
  )

  it.effect("/metrics serves the Prometheus exposition", () =>
    Effect.gen(function* () {
      const http = yield* HttpClient.HttpClient
      const response = yield* http.get("/metrics")
      assert.strictEqual(response.status, 200)
      assert.include(response.headers["content-type"], "text/plain")
      const text = yield* response.text
      assert.include(text, "process_resident_memory_bytes")
      assert.include(text, 'app_info{version="1.0.0"} 1')
    })
  )

  it.effect("/ready is 503 once shutdown has begun", () =>
    Effect.gen(function* () {
      const lifecycle = yield* Lifecycle
      yield* lifecycle.beginShutdown
      const api = yield* client
      const error = yield* Effect.flip(api.system.ready())
      assert.instanceOf(error, NotReady)
      assert.strictEqual((error as NotReady).error, "shutting down")
    })
  )
})

layer(makeTestServer({ ROOT_PATH: "/apps/shum-booking" }), { excludeTestServices: true, timeout: "60 seconds" })(
  "ROOT_PATH",
  (it) => {
    it.effect("both the prefixed and the bare path reach the handler", () =>
      Effect.gen(function* () {
        const http = yield* HttpClient.HttpClient
        for (const path of ["/health", "/apps/shum-booking/health"]) {
          const response = yield* http.get(path)
          assert.strictEqual(response.status, 200, path)
          assert.deepStrictEqual(yield* response.json, { status: "ok" })
        }
        const other = yield* http.get("/apps/other/health")
        assert.strictEqual(other.status, 404)
      })
    )

    it.effect("OpenAPI names the prefix in `servers`; /docs and /openapi.json are served under it", () =>
      Effect.gen(function* () {
        const http = yield* HttpClient.HttpClient
        const spec = (yield* (yield* http.get("/apps/shum-booking/openapi.json")).json) as { servers: unknown }
        assert.deepStrictEqual(spec.servers, [{ url: "/apps/shum-booking", description: "Production server" }])
        const docs = yield* http.get("/apps/shum-booking/docs")
        assert.strictEqual(docs.status, 200)
        assert.include(docs.headers["content-type"], "text/html")
      })
    )

    it.effect("a trailing slash redirects (307) to the path without it, keeping the prefix and query", () =>
      Effect.gen(function* () {
        const http = yield* HttpClient.HttpClient
        const response = yield* http
          .execute(HttpClientRequest.get("/apps/shum-booking/health/?x=1"))
          .pipe(Effect.provideService(HttpClient.HttpClient, http.pipe(HttpClient.followRedirects(0))))
        assert.strictEqual(response.status, 307)
        assert.strictEqual(response.headers["location"], "/apps/shum-booking/health?x=1")
      })
    )
  }
)

layer(makeTestServer(), { excludeTestServices: true, timeout: "60 seconds" })("database down", (it) => {
  it.effect("/ready is 503 with the same shape, /health/detailed says down, /health and /live stay 200", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabaseName
      const http = yield* HttpClient.HttpClient
      // This server's database disappears (the fixture's own finalizer tolerates that).
      yield* withAdminClient((client) => client.query(`DROP DATABASE ${db} WITH (FORCE)`))
      const response = yield* http.get("/ready")
      assert.strictEqual(response.status, 503)
      assert.strictEqual(response.headers["retry-after"], "5", "every 503 says when to come back")
      const body = (yield* response.json) as { ready: boolean; timestamp: string; error: string }
      assert.isFalse(body.ready)
      assert.match(body.timestamp, NAIVE_ISO)
      assert.isString(body.error)
      const api = yield* client
      const health = yield* api.system.healthDetailed()
      assert.strictEqual(health.status, "down")
      assert.strictEqual(health.database, "disconnected")
      assert.strictEqual((yield* http.get("/health")).status, 200)
      assert.strictEqual((yield* http.get("/live")).status, 200)
    })
  )
})

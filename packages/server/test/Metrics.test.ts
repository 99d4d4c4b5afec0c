/**
 * `/metrics` (docs/api.md §12): every metric with its type and labels, HTTP metrics by route template,
 * unknown paths and system endpoints left out, db metrics fed by the SQL layer, and nothing collected
 * under APP_ENV=test without ENABLE_METRICS_IN_TESTS.
 */
import { HttpClient, HttpClientRequest, HttpServer } from "@effect/platform"
import { connect } from "node:net"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { randomIp, requestFrom, scrape } from "./OpsSupport.js"
import { client, makeTestServer, signIn, uniqueEmail } from "./support.js"

/** docs/api.md §12: name → [type, label names] (labelled ones are checked on their samples). */
const CONTRACT: Record<string, readonly [string, ReadonlyArray<string>]> = {
  auth_registrations_total: ["counter", []],
  auth_logins_total: ["counter", ["status"]],
  auth_refresh_tokens_total: ["counter", ["status"]],
  auth_failed_attempts_total: ["counter", ["reason"]],
  bookings_created_total: ["counter", []],
  booking_cancels_total: ["counter", ["outcome"]],
  booking_date_changes_total: ["counter", ["outcome"]],
  hotels_created_total: ["counter", []],
  rate_limit_requests_total: ["counter", ["endpoint"]],
  rate_limit_exceeded_total: ["counter", ["endpoint"]],
  api_requests_total: ["counter", ["endpoint", "method", "status"]],
  api_request_duration_seconds: ["histogram", ["endpoint", "method"]],
  api_errors_total: ["counter", ["endpoint", "error_type"]],
  cache_operations_total: ["counter", ["operation", "namespace"]],
  app_uptime_seconds: ["gauge", []],
  app_info: ["gauge", ["version"]],
  cache_hits_total: ["counter", ["namespace"]],
  cache_misses_total: ["counter", ["namespace"]],
  catalogue_cache_version_reads_total: ["counter", []],
  cache_operation_duration_seconds: ["histogram", ["operation", "namespace"]],
  db_queries_total: ["counter", ["operation"]],
  db_query_duration_seconds: ["histogram", ["operation"]],
  db_connections_active: ["gauge", []],
  db_connections_idle: ["gauge", []],
  users_active_total: ["gauge", []],
  http_requests_total: ["counter", ["method", "status", "handler"]],
  http_request_size_bytes: ["summary", ["handler"]],
  http_response_size_bytes: ["summary", ["handler"]],
  http_request_duration_seconds: ["histogram", ["method", "handler"]],
  http_request_duration_highr_seconds: ["histogram", []],
  http_requests_inprogress: ["gauge", ["method", "handler"]],
  process_resident_memory_bytes: ["gauge", []],
  process_cpu_seconds_total: ["counter", []]
}

const API_BUCKETS = ["0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]

const get = (path: string) => Effect.flatMap(HttpClient.HttpClient, (http) => http.get(path))

const ENV = {
  ENABLE_METRICS_IN_TESTS: "true",
  RATE_LIMIT_ENABLED_IN_TESTS: "true",
  RATE_LIMIT_AUTH_PER_MINUTE: "1",
  RATE_LIMIT_PER_MINUTE: "1000"
}

layer(makeTestServer(ENV), { excludeTestServices: true, timeout: "60 seconds" })("metrics (collection on)", (it) => {
  it.effect("every docs/api.md §12 metric is exposed with its type and labels", () =>
    Effect.gen(function* () {
      // exercise what only appears after first use
      const api = yield* client
      yield* api.auth.register({
        payload: { email: uniqueEmail("metrics"), password: "password123", first_name: "M", last_name: "M" }
      })
      yield* signIn()
      // the auth limit is 1 per client and path: each of these comes from an address of its own
      const failedLogin = HttpClientRequest.post("/auth/login").pipe(
        HttpClientRequest.bodyUnsafeJson({ email: uniqueEmail("nobody"), password: "password123" })
      )
      assert.strictEqual((yield* requestFrom(randomIp(), failedLogin)).status, 401)
      const refresh = HttpClientRequest.post("/auth/refresh").pipe(
        HttpClientRequest.bodyUnsafeJson({ refresh_token: "not-a-token" })
      )
      const refresher = randomIp()
      assert.strictEqual((yield* requestFrom(refresher, refresh)).status, 401)
      assert.strictEqual((yield* requestFrom(refresher, refresh)).status, 429)
      yield* get("/hotels/123")
      // the catalogue read cache (D7): a miss, then a hit
      yield* get("/hotels?per_page=3")
      yield* get("/hotels?per_page=3")

      const metrics = yield* scrape
      for (const [name, [type, labels]] of Object.entries(CONTRACT)) {
        assert.strictEqual(metrics.types.get(name), type, `# TYPE ${name}`)
        const samples = metrics.find(type === "histogram" || type === "summary" ? `${name}_count` : name)
        if (labels.length === 0 && name !== "http_request_duration_highr_seconds") {
          assert.lengthOf(samples, 1, name)
          assert.deepStrictEqual(Object.keys(samples[0]!.labels), [], name)
        }
        for (const sample of samples) assert.sameMembers(Object.keys(sample.labels), [...labels], name)
      }
      const used = [
        "auth_registrations_total",
        "auth_logins_total",
        "auth_failed_attempts_total",
        "auth_refresh_tokens_total",
        "rate_limit_requests_total",
        "rate_limit_exceeded_total",
        "api_requests_total",
        "db_queries_total",
        "http_requests_total"
      ]
      for (const name of used) assert.isAbove(metrics.find(name).length, 0, `${name} has samples`)
      assert.deepStrictEqual(
        metrics.find("rate_limit_exceeded_total").map((s) => s.labels),
        [{ endpoint: "/auth/refresh" }]
      )
      assert.include(
        metrics.find("auth_logins_total").map((s) => s.labels["status"]),
        "failure"
      )
      assert.strictEqual(metrics.find("app_info")[0]?.labels["version"], "1.0.0")
      assert.isAbove(metrics.find("process_resident_memory_bytes")[0]?.value ?? 0, 0)
      assert.isAbove(metrics.find("app_uptime_seconds")[0]?.value ?? 0, 0)
      // the catalogue read cache (D7) counts its answers under namespace="catalogue"
      for (const name of ["cache_hits_total", "cache_misses_total"]) {
        const samples = metrics.find(name)
        assert.deepStrictEqual(
          samples.map((sample) => sample.labels),
          [{ namespace: "catalogue" }],
          name
        )
        assert.isAtLeast(samples[0]!.value, 1, name)
      }
      assert.isAtLeast(metrics.find("catalogue_cache_version_reads_total")[0]?.value ?? 0, 1)
      const apiBuckets = metrics
        .find("api_request_duration_seconds_bucket")
        .filter((s) => s.labels["endpoint"] === "/hotels/{hotel_id}")
        .map((s) => s.labels["le"])
      assert.deepStrictEqual(apiBuckets, API_BUCKETS)
      const httpBuckets = metrics
        .find("http_request_duration_seconds_bucket")
        .filter((s) => s.labels["handler"] === "/hotels/{hotel_id}")
        .map((s) => s.labels["le"])
      assert.deepStrictEqual(httpBuckets, ["0.1", "0.5", "1", "+Inf"])
    })
  )

  it.effect("an unhandled failure is counted in api_errors_total by endpoint and error type", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const errors = (m: Effect.Effect.Success<typeof scrape>) =>
        m
          .find("api_errors_total")
          .find((s) => s.labels["endpoint"] === "/facilities" && s.labels["error_type"] === "SqlError")?.value ?? 0
      const before = errors(yield* scrape)
      // this file's own database: the table gone for a moment, the read fails in PostgreSQL (500 E-92)
      yield* sql`ALTER TABLE facilities RENAME TO facilities_away`
      const response = yield* get("/facilities").pipe(
        Effect.ensuring(Effect.orDie(sql`ALTER TABLE facilities_away RENAME TO facilities`))
      )
      assert.strictEqual(response.status, 500)
      assert.strictEqual(errors(yield* scrape), before + 1)
      assert.strictEqual((yield* get("/facilities")).status, 200)
    })
  )

  it.effect("a refused body's claimed Content-Length is not counted in http_request_size_bytes", () =>
    Effect.gen(function* () {
      const address = (yield* HttpServer.HttpServer).address
      assert(address._tag === "TcpAddress")
      const sizeSum = (m: Effect.Effect.Success<typeof scrape>) =>
        m.find("http_request_size_bytes_sum").find((s) => s.labels["handler"] === "/countries")?.value ?? 0
      const before = sizeSum(yield* scrape)
      // headers claiming 100 MB, then nothing: the body limit answers 413 before reading
      const status = yield* Effect.promise(
        () =>
          new Promise<string>((resolve, reject) => {
            const socket = connect(address.port, "127.0.0.1", () =>
              socket.write(
                "POST /countries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
                  "Content-Length: 104857600\r\n\r\n{"
              )
            )
            let answer = ""
            socket.on("data", (chunk) => {
              answer += chunk.toString("latin1")
              if (answer.includes("\r\n")) {
                socket.destroy()
                resolve(answer.split("\r\n")[0]!)
              }
            })
            socket.on("error", reject)
          })
      )
      assert.include(status, " 413 ")
      yield* Effect.sleep("50 millis")
      assert.isBelow(sizeSum(yield* scrape) - before, 1024)
    })
  )

  it.effect("requests are recorded by route template; unknown paths and system endpoints are not", () =>
    Effect.gen(function* () {
      for (const path of ["/hotels/123", "/hotels/456", "/no/such/path", "/health", "/ready", "/live", "/metrics"]) {
        yield* get(path)
      }
      const metrics = yield* scrape
      const handlers = new Set(metrics.find("http_requests_total").map((s) => s.labels["handler"]))
      assert.isTrue(handlers.has("/hotels/{hotel_id}"))
      for (const excluded of [
        "/hotels/123",
        "/no/such/path",
        "/health",
        "/health/detailed",
        "/ready",
        "/live",
        "/metrics"
      ]) {
        assert.isFalse(handlers.has(excluded), excluded)
      }
      const hotel = metrics
        .find("http_requests_total")
        .find((s) => s.labels["handler"] === "/hotels/{hotel_id}" && s.labels["method"] === "GET")
      assert.isAtLeast(hotel?.value ?? 0, 2)
      const endpoints = new Set(metrics.find("api_requests_total").map((s) => s.labels["endpoint"]))
      assert.isTrue(endpoints.has("/hotels/{hotel_id}"))
      assert.isTrue(endpoints.has("unmatched"))
      assert.isFalse(endpoints.has("/hotels/123"))
      assert.isFalse(endpoints.has("/no/such/path"))
    })
  )

  it.effect("db metrics are fed by the SQL layer", () =>
    Effect.gen(function* () {
      const selects = (m: Effect.Effect.Success<typeof scrape>) =>
        m.find("db_queries_total").find((s) => s.labels["operation"] === "select")?.value ?? 0
      const before = selects(yield* scrape)
      yield* get("/countries")
      yield* get("/ready")
      const after = yield* scrape
      assert.isAtLeast(selects(after) - before, 2)
      const count = after.find("db_query_duration_seconds_count").find((s) => s.labels["operation"] === "select")
      assert.isAbove(count?.value ?? 0, 0)
    })
  )
})

layer(makeTestServer(), { excludeTestServices: true, timeout: "60 seconds" })("metrics (APP_ENV=test)", (it) => {
  it.effect("nothing is collected without ENABLE_METRICS_IN_TESTS, but /metrics answers", () =>
    Effect.gen(function* () {
      yield* get("/hotels/123")
      yield* get("/countries")
      const response = yield* get("/metrics")
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
      const metrics = yield* scrape
      assert.lengthOf(metrics.find("http_requests_total"), 0)
      assert.lengthOf(metrics.find("api_requests_total"), 0)
      assert.lengthOf(metrics.find("db_queries_total"), 0)
      assert.strictEqual(metrics.types.get("http_requests_total"), "counter")
    })
  )
})

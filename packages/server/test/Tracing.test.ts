/**
 * Traces with an in-memory span exporter: a request yields a server span with the SQL statements and
 * the Redis call (rate limiter) beneath it, an incoming W3C `traceparent` is honoured, and the trace
 * id is the one in the request's access-log line. A booking's one statement, run on the pool directly
 * (`infra/DirectStatements.ts`), is a `sql.execute` span like any other.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Redis } from "@shum/infra/Redis"
import { randomName, redisConnection } from "@shum/infra/Testing"
import { Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { RateLimiterRedis } from "../src/RateLimit/RateLimiter.js"
import { InProcessServicesLive } from "../src/Services.js"
import { day, insertRoom, newUser } from "./BookingsFixtures.js"
import { accessLine, captureLogs, eventually, scrape } from "./OpsSupport.js"
import { makeTestServer } from "./support.js"

const exporter = new InMemorySpanExporter()
const logs = captureLogs()
const TracingLive = NodeSdk.layer(() => ({
  resource: { serviceName: "shum-booking-test" },
  spanProcessor: new SimpleSpanProcessor(exporter)
}))
// the in-process services, but the limiter on the real Redis (the right-hand layer wins)
const services = Layer.merge(
  InProcessServicesLive,
  RateLimiterRedis({ prefix: `${randomName("shum-test-rl:")}:` }).pipe(Layer.provide(Redis.layer(redisConnection)))
)
// metrics on too: their SQL hook wraps the OpenTelemetry tracer, and both must keep working
const ENV = { RATE_LIMIT_ENABLED_IN_TESTS: "true", RATE_LIMIT_PER_MINUTE: "1000", ENABLE_METRICS_IN_TESTS: "true" }

const SERVER = 1 // SpanKind.SERVER

const spanId = (span: ReadableSpan) => span.spanContext().spanId
const traceId = (span: ReadableSpan) => span.spanContext().traceId

/** Whether `span` descends from `ancestor` in the exported spans. */
const descendsFrom = (spans: ReadonlyArray<ReadableSpan>, span: ReadableSpan, ancestor: ReadableSpan) => {
  const byId = new Map(spans.map((s) => [spanId(s), s]))
  let parent = span.parentSpanContext?.spanId
  while (parent !== undefined) {
    if (parent === spanId(ancestor)) return true
    parent = byId.get(parent)?.parentSpanContext?.spanId
  }
  return false
}

/** The request without the test client's own span and propagation: the server sees only our headers. */
const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.flatMap(HttpClient.HttpClient, (http) => HttpClient.withTracerPropagation(http, false).execute(request))

const serverSpanOf = (requestId: string) =>
  eventually(`the server span of ${requestId}`, () =>
    exporter.getFinishedSpans().find((s) => s.kind === SERVER && s.attributes["http.request_id"] === requestId)
  )

layer(makeTestServer(ENV, { services, around: Layer.mergeAll(TracingLive, logs.layer), tracing: true }), {
  excludeTestServices: true,
  timeout: "60 seconds"
})("tracing", (it) => {
  it.effect("a request: a server span with SQL and Redis spans beneath it; its trace id is in the log line", () =>
    Effect.gen(function* () {
      const response = yield* send(HttpClientRequest.get("/countries"))
      assert.strictEqual(response.status, 200)
      const requestId = response.headers["x-request-id"]!
      const server = yield* serverSpanOf(requestId)
      assert.strictEqual(server.name, "http.server GET")
      assert.strictEqual(server.attributes["http.response.status_code"], 200)
      assert.isUndefined(server.parentSpanContext, "no traceparent: a new trace")

      const spans = exporter.getFinishedSpans().filter((s) => traceId(s) === traceId(server))
      const sql = spans.filter((s) => s.name === "sql.execute")
      assert.isAbove(sql.length, 0, "SQL statements are traced")
      for (const statement of sql) {
        assert.isTrue(descendsFrom(spans, statement, server), "the SQL span is part of the request")
        assert.isString(statement.attributes["db.query.text"])
      }
      const redis = spans.find((s) => s.name === "redis eval rate_limit")
      assert.isDefined(redis, "the rate limiter's Redis call is traced")
      assert.isTrue(descendsFrom(spans, redis!, server))

      const line = yield* accessLine(logs.entries, requestId)
      assert.strictEqual(line["trace_id"], traceId(server))
      assert.strictEqual(line["span_id"], spanId(server))

      const metrics = yield* scrape
      assert.isAbove(metrics.find("db_queries_total").find((s) => s.labels["operation"] === "select")?.value ?? 0, 0)
    })
  )

  it.effect("an incoming W3C traceparent is honoured", () =>
    Effect.gen(function* () {
      const trace = randomBytes(16).toString("hex")
      const parent = randomBytes(8).toString("hex")
      const response = yield* send(
        HttpClientRequest.get("/countries").pipe(HttpClientRequest.setHeader("traceparent", `00-${trace}-${parent}-01`))
      )
      assert.strictEqual(response.status, 200)
      const requestId = response.headers["x-request-id"]!
      const server = yield* serverSpanOf(requestId)
      assert.strictEqual(traceId(server), trace)
      assert.strictEqual(server.parentSpanContext?.spanId, parent)
      const sql = exporter.getFinishedSpans().filter((s) => traceId(s) === trace && s.name === "sql.execute")
      assert.isAbove(sql.length, 0)
      const line = yield* accessLine(logs.entries, requestId)
      assert.strictEqual(line["trace_id"], trace)
    })
  )
  it.effect("a booking: its one statement on the pool directly is a sql.execute span beneath the request", () =>
    Effect.gen(function* () {
      const room = yield* insertRoom({ quantity: 2 })
      const user = yield* newUser()
      const response = yield* send(
        HttpClientRequest.post("/bookings").pipe(
          HttpClientRequest.bearerToken(user.token),
          HttpClientRequest.bodyUnsafeJson({ room_id: room.id, date_from: day(3), date_to: day(5) })
        )
      )
      assert.strictEqual(response.status, 200)
      const server = yield* serverSpanOf(response.headers["x-request-id"]!)
      const spans = exporter.getFinishedSpans().filter((s) => traceId(s) === traceId(server))
      const booking = spans.find(
        (s) => s.name === "sql.execute" && String(s.attributes["db.query.text"]).includes("book_stay_in_session")
      )
      assert.isDefined(booking, "the booking's statement is traced")
      assert.isTrue(descendsFrom(spans, booking!, server))
      assert.strictEqual(booking!.attributes["db.system.name"], "postgresql")
    })
  )
})

/**
 * A catalogue hit answered before the router (`Catalogue/CatalogueEarly.ts`, issue 18): with the rate limit on,
 * early hits are counted and refused like any request, with the same 429; an early answer is the routed one —
 * status, headers but `Date` and `X-Request-Id`, body — its access line has the same fields, its metrics the same
 * labels, its span the router's `http.route`; `304`, `Warning` and `HEAD` as before; a write makes it go at once.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { CatalogueCache } from "../src/Catalogue/CatalogueCache.js"
import { insertCity, insertHotel } from "./CatalogueFixtures.js"
import { accessLine, captureLogs, eventually, randomIp, requestFrom, scrape } from "./OpsSupport.js"
import { makeTestServer } from "./support.js"

const exporter = new InMemorySpanExporter()
const logs = captureLogs()
const TracingLive = NodeSdk.layer(() => ({
  resource: { serviceName: "shum-booking-test" },
  spanProcessor: new SimpleSpanProcessor(exporter)
}))
const ENV = { RATE_LIMIT_ENABLED_IN_TESTS: "true", RATE_LIMIT_PER_MINUTE: "8", ENABLE_METRICS_IN_TESTS: "true" }
const SERVER = 1 // SpanKind.SERVER

interface Seen {
  readonly status: number
  readonly headers: Record<string, string>
  readonly text: string
}

const seen = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(response.text, (text): Seen => ({ status: response.status, headers: { ...response.headers }, text }))

/** What must be the same between two answers: all but `Date`, `X-Request-Id` and the limit's clock. */
const comparable = (answer: Seen, ignore: ReadonlyArray<string> = []) => {
  const headers = { ...answer.headers }
  for (const name of ["date", "x-request-id", ...ignore]) delete headers[name]
  return { status: answer.status, headers, text: answer.text }
}

const send = (client: string, request: HttpClientRequest.HttpClientRequest) =>
  Effect.flatMap(requestFrom(client, request), seen)

const earlyCount = Effect.map(CatalogueCache, (cache) => cache.stats().early)

/** The access line's fields but those of the moment and of the request's own ids. */
const lineFields = (line: Record<string, unknown>) => {
  const out = { ...line }
  for (const name of [
    "timestamp",
    "duration_s",
    "duration_ms",
    "request_id",
    "trace_id",
    "span_id",
    "message",
    "fiber"
  ]) {
    delete out[name]
  }
  return out
}

layer(makeTestServer(ENV, { around: Layer.mergeAll(TracingLive, logs.layer), tracing: true }), {
  excludeTestServices: true,
  timeout: "90 seconds"
})("catalogue hits answered before the router", (it) => {
  it.effect("rate limit on: early hits are counted and refused with the same 429 as uncached requests", () =>
    Effect.gen(function* () {
      const city = yield* insertCity()
      yield* insertHotel(city.id)
      const url = `/hotels?city_id=${city.id}&per_page=10`
      const client = randomIp()
      const before = yield* earlyCount
      for (let i = 1; i <= 8; i++) {
        const answer = yield* send(client, HttpClientRequest.get(url))
        assert.strictEqual(answer.status, 200)
        assert.strictEqual(answer.headers["ratelimit-remaining"], String(8 - i), `request ${i}`)
      }
      // the first was a miss through the router, which kept its answer under the target: the rest were early
      assert.strictEqual((yield* earlyCount) - before, 7)
      const refused = yield* send(client, HttpClientRequest.get(url))
      assert.strictEqual((yield* earlyCount) - before, 7, "a refused request is not answered")
      // an uncached request of another client, refused the same way
      const other = randomIp()
      for (let i = 0; i < 8; i++) yield* send(other, HttpClientRequest.get("/hotels/rooms/available"))
      const refusedUncached = yield* send(other, HttpClientRequest.get("/hotels/rooms/available"))
      assert.strictEqual(refused.status, 429)
      const clock = ["retry-after", "ratelimit-reset"]
      assert.deepStrictEqual(comparable(refused, clock), comparable(refusedUncached, clock))
      assert.deepStrictEqual(Object.keys(refused.headers), Object.keys(refusedUncached.headers))
    })
  )

  it.effect("an early answer is the routed answer: headers, body, 304, Warning, HEAD, access line, metrics, span", () =>
    Effect.gen(function* () {
      const city = yield* insertCity()
      const hotel = yield* insertHotel(city.id)
      const targets = [
        `/hotels?city_id=${city.id}`,
        `/hotels?per_page=10&city_id=${city.id}`,
        `/hotels?city_id=${city.id}&unknown_param=1`,
        `/hotels/${hotel.id}/rooms`
      ]
      for (const target of targets) {
        const client = randomIp()
        const early0 = yield* earlyCount
        const metricsBefore = yield* scrape
        // the first through the router (a miss), which keeps its answer under the target too
        const routed = yield* send(client, HttpClientRequest.get(target))
        assert.strictEqual(yield* earlyCount, early0, target)
        const early = yield* send(client, HttpClientRequest.get(target))
        assert.strictEqual((yield* earlyCount) - early0, 1, `${target} answered early`)
        assert.strictEqual(early.status, 200, target)
        const limitClock = ["ratelimit-remaining", "ratelimit-reset"]
        assert.deepStrictEqual(comparable(early, limitClock), comparable(routed, limitClock), target)
        assert.deepStrictEqual(Object.keys(early.headers), Object.keys(routed.headers), target)
        if (target.includes("unknown_param")) assert.isDefined(early.headers["warning"])

        // 304 with its tag, answered early as well
        const etag = early.headers["etag"]!
        const early1 = yield* earlyCount
        const notModified = yield* send(client, HttpClientRequest.get(target, { headers: { "if-none-match": etag } }))
        assert.strictEqual((yield* earlyCount) - early1, 1)
        assert.strictEqual(notModified.status, 304)
        assert.strictEqual(notModified.text, "")
        assert.strictEqual(notModified.headers["etag"], etag)
        // HEAD goes through the router, as before
        const early2 = yield* earlyCount
        const head = yield* send(client, HttpClientRequest.head(target))
        assert.strictEqual(head.status, 200)
        assert.strictEqual(head.text, "")
        assert.strictEqual(yield* earlyCount, early2)

        // the access lines: the same fields and values
        const routedLine = yield* accessLine(logs.entries, routed.headers["x-request-id"]!)
        const earlyLine = yield* accessLine(logs.entries, early.headers["x-request-id"]!)
        assert.deepStrictEqual(lineFields(earlyLine), lineFields(routedLine), target)

        // the span: the router's route attribute
        const spanOf = (answer: Seen) =>
          eventually("the server span", () =>
            exporter
              .getFinishedSpans()
              .find((s) => s.kind === SERVER && s.attributes["http.request_id"] === answer.headers["x-request-id"])
          )
        const routedSpan = yield* spanOf(routed)
        const earlySpan = yield* spanOf(early)
        assert.isDefined(routedSpan.attributes["http.route"])
        assert.strictEqual(earlySpan.attributes["http.route"], routedSpan.attributes["http.route"], target)
        assert.strictEqual(earlySpan.name, routedSpan.name)

        // the metrics: all four requests under the route's template, as before
        const metricsAfter = yield* scrape
        const template = target.startsWith("/hotels?") ? "/hotels" : "/hotels/{hotel_id}/rooms"
        const count = (metrics: typeof metricsAfter, name: string, status: string) =>
          metrics
            .find(name)
            .filter((s) => s.labels["endpoint"] === template && s.labels["status"] === status)
            .reduce((sum, s) => sum + s.value, 0)
        assert.strictEqual(
          count(metricsAfter, "api_requests_total", "200") - count(metricsBefore, "api_requests_total", "200"),
          3,
          target
        )
        assert.strictEqual(
          count(metricsAfter, "api_requests_total", "304") - count(metricsBefore, "api_requests_total", "304"),
          1,
          target
        )
      }
    })
  )

  it.effect("a write makes the early answer go at once (D7)", () =>
    Effect.gen(function* () {
      const city = yield* insertCity()
      const hotel = yield* insertHotel(city.id, "Before")
      const target = `/hotels?city_id=${city.id}`
      const client = randomIp()
      for (let i = 0; i < 3; i++) yield* send(client, HttpClientRequest.get(target))
      const early0 = yield* earlyCount
      assert.include((yield* send(client, HttpClientRequest.get(target))).text, "Before")
      assert.strictEqual((yield* earlyCount) - early0, 1)
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE hotels SET title = 'After' WHERE id = ${hotel.id}`.pipe(Effect.orDie)
      const after = yield* send(client, HttpClientRequest.get(target))
      assert.include(after.text, "After")
      assert.notInclude(after.text, "Before")
      assert.strictEqual((yield* earlyCount) - early0, 1, "the old answer was not given early")
    })
  )
})

/**
 * The access log over OTLP, as production exports it (`Telemetry.layer`, what `OTEL_EXPORTER_OTLP_ENDPOINT`
 * installs) to a local collector: a request's access-log record has the line as its body and the JSON line's
 * fields as attributes, and the request's span has the line as an event with the same fields — not the
 * `MessageWithFields` the access log hands its loggers (docs/operations.md §12).
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { layer as otlp } from "@shum/infra/Telemetry"
import { type CollectorReceived, otlpCollector as collector } from "@shum/infra/Testing"
import { Context, Effect, Layer } from "effect"
import { accessLine, captureLogs, eventually } from "./OpsSupport.js"
import { makeTestServer } from "./support.js"

interface KeyValue {
  readonly key: string
  readonly value: Record<string, unknown>
}
interface LogRecord {
  readonly body: Record<string, unknown>
  readonly attributes: ReadonlyArray<KeyValue>
}
interface Span {
  readonly traceId: string
  readonly spanId: string
  readonly events?: ReadonlyArray<{ readonly name: string; readonly attributes: ReadonlyArray<KeyValue> }>
}

/** The bodies a fake collector received, per path (`/v1/logs`, `/v1/traces`, `/v1/metrics`). */
class Collector extends Context.Tag("test/Collector")<Collector, Array<CollectorReceived>>() {}

const logs = captureLogs()
const ServerWithCollector = Layer.unwrapScoped(
  Effect.map(collector, ({ received, url }) =>
    Layer.merge(
      makeTestServer(
        {},
        { around: Layer.mergeAll(otlp(url, { serviceName: "shum-booking-test" }), logs.layer), tracing: true }
      ),
      Layer.succeed(Collector, received)
    )
  )
)

const logRecords = (received: ReadonlyArray<{ path: string; body: string }>): Array<LogRecord> =>
  received
    .filter((r) => r.path === "/v1/logs")
    .flatMap((r) => JSON.parse(r.body).resourceLogs)
    .flatMap((resource: { scopeLogs: Array<{ logRecords: Array<LogRecord> }> }) => resource.scopeLogs)
    .flatMap((scope) => scope.logRecords)

const spans = (received: ReadonlyArray<{ path: string; body: string }>): Array<Span> =>
  received
    .filter((r) => r.path === "/v1/traces")
    .flatMap((r) => JSON.parse(r.body).resourceSpans)
    .flatMap((resource: { scopeSpans: Array<{ spans: Array<Span> }> }) => resource.scopeSpans)
    .flatMap((scope) => scope.spans)

const attributesOf = (attributes: ReadonlyArray<KeyValue>) =>
  Object.fromEntries(attributes.map(({ key, value }) => [key, value]))

/** The OTLP attribute value a JSON log line's value is exported as. */
const otlpValue = (value: unknown) =>
  typeof value === "string"
    ? { stringValue: value }
    : typeof value === "number"
      ? Number.isInteger(value)
        ? { intValue: value }
        : { doubleValue: value }
      : { stringValue: JSON.stringify(value) }

/** The access line's fields as the JSON log writes them (what annotating the line gave OTLP before). */
const fieldsOf = (line: Record<string, unknown>) => {
  const { level: _level, message: _message, spans: _spans, timestamp: _timestamp, ...fields } = line
  return fields
}

layer(ServerWithCollector, { excludeTestServices: true, timeout: "60 seconds" })("access log over OTLP", (it) => {
  it.effect("a request's access-log record and span event: the line, with its fields as attributes", () =>
    Effect.gen(function* () {
      const received = yield* Collector
      const http = yield* HttpClient.HttpClient
      const response = yield* HttpClient.withTracerPropagation(http, false).execute(
        HttpClientRequest.get("/countries?limit=2")
      )
      assert.strictEqual(response.status, 200)
      const requestId = response.headers["x-request-id"]!
      const line = yield* accessLine(logs.entries, requestId)
      const fields = fieldsOf(line)
      assert.strictEqual(fields["logger"], "http.access")
      assert.strictEqual(fields["path"], "/countries")
      assert.strictEqual(fields["query"], "limit=2")
      assert.includeMembers(Object.keys(fields), [
        "method",
        "route",
        "path",
        "query",
        "status",
        "duration_s",
        "client_ip",
        "request_id",
        "trace_id",
        "span_id"
      ])

      const record = yield* eventually("the access-log record", () =>
        logRecords(received).find((r) => {
          const attributes = attributesOf(r.attributes)
          return attributes["request_id"]?.["stringValue"] === requestId && attributes["logger"] !== undefined
        })
      )
      assert.deepStrictEqual(record.body, { stringValue: line["message"] })
      const attributes = attributesOf(record.attributes)
      for (const [key, value] of Object.entries(fields)) {
        assert.deepStrictEqual(attributes[key], otlpValue(value), `the record's ${key}`)
      }
      assert.deepStrictEqual(attributes["status"], { intValue: 200 })
      assert.deepStrictEqual(attributes["method"], { stringValue: "GET" })

      const span = yield* eventually("the request's span", () =>
        spans(received).find((s) => s.traceId === line["trace_id"] && s.spanId === line["span_id"])
      )
      const event = span.events?.find((e) => e.name === line["message"])
      assert.isDefined(
        event,
        `an event named by the access line among ${JSON.stringify(span.events?.map((e) => e.name))}`
      )
      const eventAttributes = attributesOf(event!.attributes)
      for (const [key, value] of Object.entries(fields)) {
        assert.deepStrictEqual(eventAttributes[key], otlpValue(value), `the event's ${key}`)
      }
    })
  )
})

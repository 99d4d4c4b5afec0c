/**
 * OTLP export: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans reach the collector's `/v1/traces` as
 * OTLP/JSON; without it nothing is installed (Effect's own tracer stays). A `MessageWithFields` (the access
 * line) reaches the collector's logs and span events as the same line annotated with its fields would.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger, Option } from "effect"
import { MessageWithFields } from "../src/Logging.js"
import { layer, spanned, TelemetryLive, tracingDisabled } from "../src/Telemetry.js"
import { type CollectorReceived, otlpCollector as collector } from "../src/Testing.js"

type Received = CollectorReceived

interface KeyValue {
  readonly key: string
  readonly value: Record<string, unknown>
}
interface LogRecord {
  readonly timeUnixNano: string
  readonly observedTimeUnixNano: string
  readonly body: Record<string, unknown>
  readonly attributes: ReadonlyArray<KeyValue>
}
interface SpanEvent {
  readonly timeUnixNano: string
  readonly name: string
  readonly attributes: ReadonlyArray<KeyValue>
}
interface Span {
  readonly name: string
  readonly events: ReadonlyArray<SpanEvent>
}

/** The log records the collector received, in order. */
const logRecords = (received: ReadonlyArray<Received>): Array<LogRecord> =>
  received
    .filter((r) => r.path === "/v1/logs")
    .flatMap((r) => JSON.parse(r.body).resourceLogs)
    .flatMap((resource: { scopeLogs: Array<{ logRecords: Array<LogRecord> }> }) => resource.scopeLogs)
    .flatMap((scope) => scope.logRecords)

/** The spans the collector received. */
const spans = (received: ReadonlyArray<Received>): Array<Span> =>
  received
    .filter((r) => r.path === "/v1/traces")
    .flatMap((r) => JSON.parse(r.body).resourceSpans)
    .flatMap((resource: { scopeSpans: Array<{ spans: Array<Span> }> }) => resource.scopeSpans)
    .flatMap((scope) => scope.spans)

const withEnv = (env: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("Telemetry", () => {
  it.scopedLive("exports spans over OTLP/JSON when OTEL_EXPORTER_OTLP_ENDPOINT is set", () =>
    Effect.gen(function* () {
      const { received, url } = yield* collector
      const telemetry = TelemetryLive({ serviceName: "shum-test", serviceVersion: "1.0.3" }).pipe(
        Layer.provide(withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: url }))
      )
      // closing the layer flushes the exporter
      yield* Effect.void.pipe(
        Effect.withSpan("telemetry-test-span", { attributes: { answer: 42 } }),
        Effect.provide(telemetry)
      )
      const traces = received.filter((r) => r.path === "/v1/traces")
      assert.isAbove(traces.length, 0, "the collector received traces")
      const body = traces.map((t) => t.body).join("\n")
      assert.include(body, "telemetry-test-span")
      assert.include(body, "shum-test")
    })
  )

  it.effect("without an endpoint no exporter is installed and no spans are made", () =>
    Effect.gen(function* () {
      const before = yield* Effect.tracer
      const traced = yield* Effect.currentSpan.pipe(Effect.withSpan("traced"))
      assert.match(traced.traceId, /^[0-9a-f]{32}$/, "spans are made by default")
      const telemetry = TelemetryLive({ serviceName: "x" })
      const after = yield* Effect.tracer.pipe(Effect.provide(telemetry))
      assert.strictEqual(after, before)
      const span = yield* Effect.currentSpan.pipe(Effect.withSpan("unexported"), Effect.provide(telemetry))
      assert.strictEqual(span.traceId, "noop")
    }).pipe(Effect.provide(withEnv({})))
  )

  it.effect(
    "spanned: the span of Effect.withSpan while tracing, the effect alone (no span, not even a no-op) when disabled",
    () =>
      Effect.gen(function* () {
        const traced = yield* Effect.currentSpan.pipe(spanned("traced", { attributes: { answer: 42 } }))
        assert.strictEqual(traced.name, "traced")
        assert.strictEqual(traced.attributes.get("answer"), 42)
        assert.match(traced.traceId, /^[0-9a-f]{32}$/)
        const untraced = yield* Effect.option(
          Effect.currentSpan.pipe(spanned("untraced"), Effect.provide(tracingDisabled))
        )
        assert.isTrue(Option.isNone(untraced))
        // failures pass through unchanged either way
        for (const layer of [Layer.empty, tracingDisabled]) {
          const failed = yield* Effect.flip(Effect.fail("refused").pipe(spanned("failing"), Effect.provide(layer)))
          assert.strictEqual(failed, "refused")
        }
      })
  )

  it.scopedLive(
    "an access line (MessageWithFields) is exported as annotating the line was: body the line, attributes its fields",
    () =>
      Effect.gen(function* () {
        const { received, url } = yield* collector
        const fields = {
          logger: "http.access",
          method: "GET",
          route: null,
          path: "/a b",
          status: 200,
          duration_s: 0.002,
          user_id: 7
        }
        const line = '127.0.0.1 - "GET /a b" 200 0.002s'
        // the same line both ways, in one fiber and span: how 03c1daf's parent logged it, then as it logs it now
        yield* Effect.gen(function* () {
          yield* Effect.annotateLogs(Effect.logInfo(line), fields)
          yield* Effect.logInfo(new MessageWithFields(line, fields))
          yield* Effect.logWarning("a plain line", 42)
        }).pipe(
          Effect.annotateLogs({ request_id: "req-1", user_id: "outer" }),
          Effect.withSpan("request"),
          Effect.provide(layer(url, { serviceName: "shum-test" })), // closing it flushes the exporters
          Effect.provide(Logger.remove(Logger.defaultLogger)) // Effect's console logger: not under test
        )

        const records = logRecords(received)
        assert.strictEqual(records.length, 3)
        const [annotated, own, plain] = records.map(({ observedTimeUnixNano: _o, timeUnixNano: _t, ...rest }) => rest)
        assert.deepStrictEqual(own, annotated)
        assert.deepStrictEqual(own!.body, { stringValue: line })
        const attributes = Object.fromEntries(own!.attributes.map((a) => [a.key, a.value]))
        assert.deepStrictEqual(attributes["logger"], { stringValue: "http.access" })
        assert.deepStrictEqual(attributes["status"], { intValue: 200 })
        assert.deepStrictEqual(attributes["duration_s"], { doubleValue: 0.002 })
        assert.deepStrictEqual(attributes["user_id"], { intValue: 7 }, "a field wins over an annotation")
        assert.deepStrictEqual(attributes["request_id"], { stringValue: "req-1" })
        // any other message as Effect's logger exports it
        assert.deepStrictEqual(plain!.body, {
          arrayValue: { values: [{ stringValue: "a plain line" }, { intValue: 42 }] }
        })

        const request = spans(received).find((s) => s.name === "request")
        assert.isDefined(request)
        assert.strictEqual(request!.events.length, 3)
        const [annotatedEvent, ownEvent] = request!.events.map(({ timeUnixNano: _t, ...rest }) => rest)
        assert.deepStrictEqual(ownEvent, annotatedEvent)
        assert.strictEqual(ownEvent!.name, line)
        const eventAttributes = Object.fromEntries(ownEvent!.attributes.map((a) => [a.key, a.value]))
        assert.deepStrictEqual(eventAttributes["path"], { stringValue: "/a b" })
        assert.deepStrictEqual(eventAttributes["user_id"], { intValue: 7 })
      })
  )
})

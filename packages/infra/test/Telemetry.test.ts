/**
 * OTLP export: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans reach the collector's `/v1/traces` as
 * OTLP/JSON; without it nothing is installed (Effect's own tracer stays).
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option } from "effect"
import { createServer, type IncomingMessage } from "node:http"
import { spanned, TelemetryLive, tracingDisabled } from "../src/Telemetry.js"

interface Received {
  readonly path: string
  readonly body: string
}

/** A fake collector that records every POST. */
const collector = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly received: Array<Received>; readonly close: () => void }>((resume) => {
    const received: Array<Received> = []
    const server = createServer((request: IncomingMessage, response) => {
      let body = ""
      request.on("data", (chunk) => (body += chunk))
      request.on("end", () => {
        received.push({ path: request.url ?? "", body })
        response.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, received, close: () => server.close() }))
    })
  }),
  (c) => Effect.sync(() => c.close())
)

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
})

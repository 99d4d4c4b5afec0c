/**
 * Traces (and Effect's logs and metrics) exported over OTLP/HTTP JSON when `OTEL_EXPORTER_OTLP_ENDPOINT`
 * is set (e.g. `http://otel-collector:4318`). Spans come from the HTTP server (`http.server <METHOD>`, W3C
 * `traceparent` honoured on input), `@effect/sql` (`sql.execute`, `sql.transaction`), the Redis service
 * (`redis <operation>`) and the named `Effect.fn`/`withSpan` steps of the services.
 *
 * Without an endpoint nothing would read the spans, so none are made (`tracingDisabled`): Effect's spans
 * become no-ops and the HTTP server makes no request span. Building spans nobody exports was a third of
 * the CPU of a catalogue read with two statements (`npm run bench`, issue 10).
 */
import * as Otlp from "@effect/opentelemetry/Otlp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { type ConfigError, Effect, FiberRef, Function, Layer, Option, type Tracer } from "effect"
import { telemetry } from "./Config.js"

export interface TelemetryOptions {
  readonly serviceName: string
  readonly serviceVersion?: string
}

/** The exporter for an explicit endpoint (tests, tools). */
export const layer = (endpoint: string, options: TelemetryOptions): Layer.Layer<never> =>
  Otlp.layerJson({
    baseUrl: endpoint,
    resource: {
      serviceName: options.serviceName,
      ...(options.serviceVersion === undefined ? {} : { serviceVersion: options.serviceVersion })
    }
  }).pipe(Layer.provide(NodeHttpClient.layerUndici))

/**
 * No spans at all, for everything built after this layer: `Effect.withSpan`/`Effect.fn` make no-op spans
 * (no ids, attributes or timing) and the HTTP server makes no request span (nor parses the URL for one).
 */
export const tracingDisabled: Layer.Layer<never> = Layer.mergeAll(
  Layer.setTracerEnabled(false),
  Layer.locallyScoped(HttpMiddleware.currentTracerDisabledWhen, Function.constTrue)
)

/** OTLP export per `OTEL_EXPORTER_OTLP_ENDPOINT`; when it is not set, `tracingDisabled`. */
export const TelemetryLive = (options: TelemetryOptions): Layer.Layer<never, ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(telemetry, ({ otlpEndpoint }) =>
      Option.match(otlpEndpoint, { onNone: () => tracingDisabled, onSome: (endpoint) => layer(endpoint, options) })
    )
  )

/**
 * `Effect.withSpan`, made only while tracing is enabled: with it disabled (`tracingDisabled`) `withSpan` still
 * builds a no-op span and provides it to the effect — a copy of the fiber's whole context of services and a
 * fiber-local set, about 10 µs on every call of a hot path (bench/README.md, "Issue 18 and 19: the write
 * path") for a span nobody reads. Enabled, exactly `Effect.withSpan`.
 */
export const spanned =
  (name: string, options?: Tracer.SpanOptions) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const traced = Effect.withSpan(self, name, options)
    return Effect.flatMap(FiberRef.get(FiberRef.currentTracerEnabled), (enabled) => (enabled ? traced : self))
  }

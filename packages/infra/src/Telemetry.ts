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
import * as OtlpLogger from "@effect/opentelemetry/OtlpLogger"
import * as OtlpMetrics from "@effect/opentelemetry/OtlpMetrics"
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { type ConfigError, Effect, FiberRef, Function, Layer, Logger, Option, type Tracer } from "effect"
import { telemetry } from "./Config.js"
import { withFieldsAnnotated } from "./Logging.js"

export interface TelemetryOptions {
  readonly serviceName: string
  readonly serviceVersion?: string
}

/**
 * Effect's span events (`Logger.tracerLogger`: each log call inside a span is an event of the span) with a
 * `MessageWithFields` (the access line) as its text and its fields as the event's attributes — as when the
 * access log annotated its line; Effect's own would name the event with the message's JSON and no fields.
 */
export const spanEventsWithFields: Logger.Logger<unknown, void> = Logger.mapInputOptions(
  Logger.tracerLogger,
  withFieldsAnnotated
)

/**
 * The exporter for an explicit endpoint (tests, tools): `Otlp.layerJson`'s logs, metrics and traces, but
 * the logs and the span events (`spanEventsWithFields`) taking a `MessageWithFields` apart as the JSON log
 * does (`withFieldsAnnotated`): an access-log record's body is its line, its attributes its fields
 * (docs/operations.md §12). Only here, with an endpoint: without one, nothing but the JSON log reads them.
 */
export const layer = (endpoint: string, options: TelemetryOptions): Layer.Layer<never> => {
  const resource = {
    serviceName: options.serviceName,
    ...(options.serviceVersion === undefined ? {} : { serviceVersion: options.serviceVersion })
  }
  // the URLs as `Otlp.layer` makes them
  const url = (path: string) => HttpClientRequest.appendUrl(HttpClientRequest.get(endpoint), path).url
  return Layer.mergeAll(
    Logger.addScoped(
      Effect.map(OtlpLogger.make({ url: url("/v1/logs"), resource }), Logger.mapInputOptions(withFieldsAnnotated))
    ),
    Logger.replace(Logger.tracerLogger, spanEventsWithFields),
    OtlpMetrics.layer({ url: url("/v1/metrics"), resource }),
    OtlpTracer.layer({ url: url("/v1/traces"), resource })
  ).pipe(Layer.provide(OtlpSerialization.layerJson), Layer.provide(NodeHttpClient.layerUndici))
}

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

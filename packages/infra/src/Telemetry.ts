/**
 * Traces (and Effect's logs and metrics) exported over OTLP/HTTP JSON when `OTEL_EXPORTER_OTLP_ENDPOINT`
 * is set (e.g. `http://otel-collector:4318`); without it nothing is exported and nothing is installed.
 * Spans come from the HTTP server (`http.server <METHOD>`, W3C `traceparent` honoured on input),
 * `@effect/sql` (`sql.execute`, `sql.transaction`), the Redis service (`redis <operation>`) and the
 * named `Effect.fn`/`withSpan` steps of the services.
 */
import * as Otlp from "@effect/opentelemetry/Otlp"
import { NodeHttpClient } from "@effect/platform-node"
import { type ConfigError, Effect, Layer, Option } from "effect"
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

/** OTLP export per `OTEL_EXPORTER_OTLP_ENDPOINT`; an empty layer when it is not set. */
export const TelemetryLive = (options: TelemetryOptions): Layer.Layer<never, ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(telemetry, ({ otlpEndpoint }) =>
      Option.match(otlpEndpoint, { onNone: () => Layer.empty, onSome: (endpoint) => layer(endpoint, options) })
    )
  )

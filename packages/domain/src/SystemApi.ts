/**
 * System endpoints (docs/api.md §6, docs/decisions.md D6): liveness, readiness, health and Prometheus metrics.
 * Anonymous, never rate-limited.
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { modelDoc } from "./Common.js"

/** Server-local naive ISO-8601 (`2026-02-12T10:15:30.123456`), docs/api.md §1.2. */
const NaiveTimestamp = Schema.String.annotations({ examples: ["2026-02-12T10:15:30.123456"] })
const NOW = "2026-02-12T10:15:30.123456"

const healthFields = { status: Schema.Literal("ok") }
export class HealthStatus extends Schema.Class<HealthStatus>("HealthStatus")(
  healthFields,
  modelDoc(healthFields, "The process answers.", { status: "ok" })
) {}

const liveFields = { alive: Schema.Literal(true), timestamp: NaiveTimestamp }
export class LiveStatus extends Schema.Class<LiveStatus>("LiveStatus")(
  liveFields,
  modelDoc(liveFields, "The process is alive; `timestamp` is server-local, without a zone.", {
    alive: true,
    timestamp: NOW
  })
) {}

const readyFields = { ready: Schema.Literal(true), timestamp: NaiveTimestamp }
export class ReadyStatus extends Schema.Class<ReadyStatus>("ReadyStatus")(
  readyFields,
  modelDoc(readyFields, "The database answers and the process is not shutting down.", { ready: true, timestamp: NOW })
) {}

/** `/ready` when the database is unreachable or the process is shutting down: 503, same JSON shape (D6). */
export class NotReady extends Schema.TaggedError<NotReady>()("NotReady", {
  timestamp: Schema.String,
  error: Schema.String
}) {}
export const NotReadyResponse = Schema.transform(
  Schema.Struct({ ready: Schema.Literal(false), timestamp: NaiveTimestamp, error: Schema.String }),
  NotReady,
  {
    strict: true,
    decode: (wire) => ({ _tag: "NotReady" as const, timestamp: wire.timestamp, error: wire.error }),
    encode: (error) => ({ ready: false as const, timestamp: error.timestamp, error: error.error })
  }
).annotations(
  HttpApiSchema.annotations({
    status: 503,
    identifier: "NotReady",
    description: "Not ready: the database is unreachable or the process is shutting down.",
    examples: [new NotReady({ timestamp: NOW, error: "shutting down" })]
  })
)

export const CeleryStatus = Schema.Union(
  Schema.Struct({ status: Schema.Literal("ok"), workers_count: Schema.Int, workers: Schema.Array(Schema.String) }),
  Schema.Struct({ status: Schema.Literal("no_workers"), message: Schema.String }),
  Schema.Struct({ status: Schema.Literal("error"), error: Schema.String })
).annotations({ identifier: "WorkerStatus", description: "The image workers (kept under `celery` for compatibility)." })

const DiskStatus = Schema.Union(
  Schema.Struct({
    status: Schema.Literal("ok", "warning"),
    total_gb: Schema.Number,
    used_gb: Schema.Number,
    free_gb: Schema.Number,
    free_percent: Schema.Number,
    min_free_percent: Schema.Number
  }),
  Schema.Struct({ status: Schema.Literal("error"), error: Schema.String })
).annotations({ identifier: "DiskStatus" })

const healthDetailedFields = {
  status: Schema.Literal("ok", "degraded", "down"),
  timestamp: NaiveTimestamp,
  version: Schema.String,
  database: Schema.Literal("connected", "disconnected"),
  redis: Schema.Literal("connected", "disconnected", "in-process").annotations({
    description:
      "`in-process`: no Redis is configured (the embedded default) and the Redis-shaped services (rate limiter, token store, image jobs) run in this process — healthy by design."
  }),
  celery: CeleryStatus,
  disk: DiskStatus,
  rate_limiting: Schema.Struct({
    enabled: Schema.Boolean,
    api_limit_per_minute: Schema.Int,
    auth_limit_per_minute: Schema.Int
  })
}
export class HealthDetailed extends Schema.Class<HealthDetailed>("HealthDetailed")(
  healthDetailedFields,
  modelDoc(healthDetailedFields, "Dependency report; always HTTP 200 (`status` says `ok`, `degraded` or `down`).", {
    status: "ok",
    timestamp: NOW,
    version: "1.0.0",
    database: "connected",
    redis: "connected",
    celery: { status: "ok", workers_count: 2, workers: ["worker@images-0", "worker@images-1"] },
    disk: { status: "ok", total_gb: 50, used_gb: 20.5, free_gb: 29.5, free_percent: 59, min_free_percent: 10 },
    rate_limiting: { enabled: true, api_limit_per_minute: 60, auth_limit_per_minute: 5 }
  })
) {}

const MetricsText = HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" }).annotations({
  description: "Prometheus text exposition format 0.0.4.",
  examples: [
    '# HELP app_info Application information\n# TYPE app_info gauge\napp_info{version="1.0.0"} 1\n' +
      "# HELP http_requests_total Total number of requests by method, status and handler.\n" +
      "# TYPE http_requests_total counter\n" +
      'http_requests_total{method="GET",status="200",handler="/hotels"} 42\n'
  ]
})

export class SystemApi extends HttpApiGroup.make("system")
  .add(
    HttpApiEndpoint.get("health", "/health")
      .addSuccess(HealthStatus)
      .annotate(OpenApi.Identifier, "getHealth")
      .annotate(OpenApi.Summary, "Health")
      .annotate(OpenApi.Description, 'Answers `{"status": "ok"}` without checking dependencies.')
  )
  .add(
    HttpApiEndpoint.get("healthDetailed", "/health/detailed")
      .addSuccess(HealthDetailed)
      .annotate(OpenApi.Identifier, "getHealthDetailed")
      .annotate(OpenApi.Summary, "Detailed health")
      .annotate(
        OpenApi.Description,
        "Database, Redis, image workers, disk and rate-limit settings. `down` when the database is unreachable, " +
          "`degraded` when Redis, the workers or the disk are not well."
      )
  )
  .add(
    HttpApiEndpoint.get("live", "/live")
      .addSuccess(LiveStatus)
      .annotate(OpenApi.Identifier, "getLiveness")
      .annotate(OpenApi.Summary, "Liveness")
      .annotate(OpenApi.Description, "The process is up. No dependency checks.")
  )
  .add(
    HttpApiEndpoint.get("ready", "/ready")
      .addSuccess(ReadyStatus)
      .addError(NotReadyResponse)
      .annotate(OpenApi.Identifier, "getReadiness")
      .annotate(OpenApi.Summary, "Readiness")
      .annotate(
        OpenApi.Description,
        "200 when the database answers `SELECT 1`; 503 with the same shape when it does not or the process is " +
          "shutting down (the original answered 200 — fixed, docs/decisions.md D6)."
      )
  )
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(MetricsText)
      .annotate(OpenApi.Identifier, "getMetrics")
      .annotate(OpenApi.Summary, "Prometheus metrics")
      .annotate(OpenApi.Description, "Prometheus text exposition (docs/api.md §12).")
  )
  .annotate(OpenApi.Title, "Система")
  .annotate(OpenApi.Description, "Health, readiness, liveness and metrics.") {}

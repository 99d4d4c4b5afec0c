/**
 * Prometheus metrics (docs/api.md §12) in a registry of our own (the global one breaks when two servers
 * are built in one process, as tests do). Node's default collectors provide the process metrics.
 *
 * Every name, type, label set and bucket list of docs/api.md §12 is declared. Differences from the original:
 * - HTTP and `api_*` metrics are labelled by the route template (`/hotels/{hotel_id}`), never the raw
 *   path, so cardinality stays bounded; unknown paths are `api_*` endpoint `unmatched`.
 * - `db_queries_total` / `db_query_duration_seconds` are really updated, timed by the database pool itself
 *   (`QueryMetricsLive`, the pool's `QueryObserver`), labelled by statement kind (`select`, `insert`, …).
 * - `cache_hits_total{namespace="catalogue"}` and `cache_misses_total{namespace="catalogue"}` count the
 *   catalogue read cache's answers (`Catalogue/CatalogueCache.ts`, D7), and `catalogue_cache_version_reads_total`
 *   (ours) its reads of the catalogue's version, each shared by the requests waiting for it;
 *   `cache_operations_total` and `cache_operation_duration_seconds` stay declared only.
 *   `db_connections_active/idle` and `users_active_total` stay 0 as in the original: `@effect/sql-pg`
 *   does not expose its pool's counters.
 * - `app_uptime_seconds` is current at every scrape rather than frozen at start-up.
 * - `rate_limit_backend_errors_total` (ours): checks that failed open because the limiter's Redis did not answer.
 * Under APP_ENV=test collection is off unless ENABLE_METRICS_IN_TESTS; `/metrics` still answers.
 */
import { AppConfig } from "@shum/infra/Config"
import { QueryObserver } from "@shum/infra/Database"
import { Effect, Layer } from "effect"
import { Counter, Gauge, Histogram, Registry, Summary, collectDefaultMetrics } from "prom-client"

const startedAt = Date.now() - process.uptime() * 1000

const API_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const CACHE_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5]
const HTTP_BUCKETS = [0.1, 0.5, 1]
const HTTP_HIGHR_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 7.5, 10, 30, 60
]

/** What the access log knows about a finished request. */
export interface RequestObservation {
  readonly status: number
  readonly seconds: number
  readonly requestBytes: number | undefined
  readonly responseBytes: number | undefined
  /** Class name of an unhandled exception, if there was one. */
  readonly errorType: string | undefined
}

const SQL_OPERATIONS = new Set([
  "select",
  "insert",
  "update",
  "delete",
  "with",
  "begin",
  "commit",
  "rollback",
  "savepoint",
  "release",
  "lock",
  "set",
  "create",
  "alter",
  "drop"
])

/** `db_queries_total{operation}`: the statement's first keyword, bounded to a known set. */
export const sqlOperation = (sql: unknown): string => {
  if (typeof sql !== "string") return "other"
  const word = /^\s*\(?\s*([A-Za-z]+)/.exec(sql)?.[1]?.toLowerCase()
  return word !== undefined && SQL_OPERATIONS.has(word) ? word : "other"
}

type Registers = Array<Registry>

/** `app_info` and `app_uptime_seconds`. */
const declareAppMetrics = (registers: Registers) => {
  const appInfo = new Gauge({ name: "app_info", help: "Application information", labelNames: ["version"], registers })
  appInfo.set({ version: "1.0.0" }, 1)
  new Gauge({
    name: "app_uptime_seconds",
    help: "Seconds since the process started",
    registers,
    collect() {
      this.set((Date.now() - startedAt) / 1000)
    }
  })
}

/** The domain's counters, incremented by the services (`metrics.counters.…`). */
const declareDomainCounters = (registers: Registers) => ({
  authRegistrations: new Counter({ name: "auth_registrations_total", help: "Successful registrations", registers }),
  authLogins: new Counter({
    name: "auth_logins_total",
    help: "Login attempts that reached the handler",
    labelNames: ["status"] as const,
    registers
  }),
  authFailedAttempts: new Counter({
    name: "auth_failed_attempts_total",
    help: "Failed logins by reason",
    labelNames: ["reason"] as const,
    registers
  }),
  authRefreshTokens: new Counter({
    name: "auth_refresh_tokens_total",
    help: "Token refreshes",
    labelNames: ["status"] as const,
    registers
  }),
  bookingsCreated: new Counter({ name: "bookings_created_total", help: "Bookings created", registers }),
  bookingCancels: new Counter({
    name: "booking_cancels_total",
    help: "Cancellations asked of a booking (POST /bookings/{id}/cancel, DELETE /bookings/{id}) by outcome",
    labelNames: ["outcome"] as const,
    registers
  }),
  bookingDateChanges: new Counter({
    name: "booking_date_changes_total",
    help: "Changes of a booking's dates asked (POST /bookings/{id}/change-dates) by outcome",
    labelNames: ["outcome"] as const,
    registers
  }),
  holdsCreated: new Counter({ name: "holds_created_total", help: "Holds placed (docs/api.md §8.9)", registers }),
  holdsConfirmed: new Counter({ name: "holds_confirmed_total", help: "Holds confirmed into bookings", registers }),
  holdsReleased: new Counter({
    name: "holds_released_total",
    help: "Holds released by their owner or an admin",
    registers
  }),
  holdsExpired: new Counter({
    name: "holds_expired_total",
    help: "Holds this process found past expires_at (a confirm, a release, the sweep)",
    registers
  }),
  hotelsCreated: new Counter({ name: "hotels_created_total", help: "Hotels created", registers }),
  auditRows: new Counter({
    name: "audit_rows_total",
    help: "Audit log rows written by action, once their transaction commits (docs/decisions.md D17)",
    labelNames: ["action"] as const,
    registers
  })
})

/** The rate limiter's counters (`RateLimit/Middleware.ts`). */
const declareRateLimitMetrics = (registers: Registers, enabled: boolean) => {
  const requests = new Counter({
    name: "rate_limit_requests_total",
    help: "Requests checked by the rate limiter",
    labelNames: ["endpoint"] as const,
    registers
  })
  const exceeded = new Counter({
    name: "rate_limit_exceeded_total",
    help: "Requests refused with 429 by the rate limiter",
    labelNames: ["endpoint"] as const,
    registers
  })
  const backendErrors = new Counter({
    name: "rate_limit_backend_errors_total",
    help: "Rate-limit checks let through because the limiter's store (Redis) did not answer",
    registers
  })
  return {
    checked: (endpoint: string) => enabled && requests.inc({ endpoint }),
    exceeded: (endpoint: string) => enabled && exceeded.inc({ endpoint }),
    backendError: () => enabled && backendErrors.inc()
  }
}

/** The catalogue read cache's counters (`Catalogue/CatalogueCache.ts`, docs/decisions.md D7). */
const declareCacheMetrics = (registers: Registers, enabled: boolean) => {
  const hits = new Counter({ name: "cache_hits_total", help: "Cache hits", labelNames: ["namespace"], registers })
  const misses = new Counter({ name: "cache_misses_total", help: "Cache misses", labelNames: ["namespace"], registers })
  const versionReads = new Counter({
    name: "catalogue_cache_version_reads_total",
    help: "Reads of the catalogue's version by the catalogue cache, each shared by the requests waiting for it",
    registers
  })
  // the series made once: no label object per request
  const catalogueHits = hits.labels({ namespace: "catalogue" })
  const catalogueMisses = misses.labels({ namespace: "catalogue" })
  return {
    hit: () => enabled && catalogueHits.inc(),
    miss: () => enabled && catalogueMisses.inc(),
    versionRead: () => enabled && versionReads.inc()
  }
}

/** Declared with their names, types and labels, never updated: pool counters not exposed. */
const declareUnusedMetrics = (registers: Registers) => {
  new Counter({
    name: "cache_operations_total",
    help: "Cache operations (never updated)",
    labelNames: ["operation", "namespace"],
    registers
  })
  new Histogram({
    name: "cache_operation_duration_seconds",
    help: "Cache operation duration (never updated)",
    labelNames: ["operation", "namespace"],
    buckets: CACHE_BUCKETS,
    registers
  })
  new Gauge({ name: "db_connections_active", help: "Active database connections (not tracked)", registers })
  new Gauge({ name: "db_connections_idle", help: "Idle database connections (not tracked)", registers })
  new Gauge({ name: "users_active_total", help: "Active users (not tracked)", registers })
}

/** `db_queries_total` and `db_query_duration_seconds`: one statement run by the pool (`QueryObserver`). */
const declareQueryMetrics = (registers: Registers) => {
  const queries = new Counter({
    name: "db_queries_total",
    help: "SQL statements executed, by kind",
    labelNames: ["operation"] as const,
    registers
  })
  const duration = new Histogram({
    name: "db_query_duration_seconds",
    help: "SQL statement duration, by kind",
    labelNames: ["operation"] as const,
    buckets: API_BUCKETS,
    registers
  })
  // one label object per operation, made once
  const labels = new Map<string, { readonly operation: string }>()
  return (text: string, seconds: number) => {
    const operation = sqlOperation(text)
    let operationLabels = labels.get(operation)
    if (operationLabels === undefined) {
      operationLabels = { operation }
      labels.set(operation, operationLabels)
    }
    queries.inc(operationLabels)
    duration.observe(operationLabels, seconds)
  }
}

/**
 * prom-client's own entry of one series (prom-client 15: the metric's `hashMap`, keyed by its label hash),
 * updated in place once prom-client has made it: prom-client checks and hashes the labels on every call,
 * which was most of a request's metrics time (issue 18, bench/README.md), while a request's series here are
 * fixed label objects, checked by prom-client on their first use. Each update first checks that the entry is
 * still prom-client's (a `reset`, or a prom-client that keeps its series otherwise, sends every call through
 * prom-client again), so the exposition is prom-client's own in any case (`test/unit/MetricsSeries.test.ts`).
 */
interface PromSeries {
  readonly hashMap: Record<string, unknown>
  readonly sortedLabelNames?: ReadonlyArray<string>
}

/** prom-client's key of a series (`hashObject` with the metric's sorted label names). */
const seriesKey = (metric: PromSeries, labels: Readonly<Record<string, string>>): string => {
  let key = ""
  for (const name of metric.sortedLabelNames ?? []) {
    const value = labels[name]
    if (value !== undefined) key += `${name}:${value},`
  }
  return key
}

/** `counter.inc(labels)`, or `gauge.inc`/`dec` with `delta` ±1, for one fixed label set. */
export const addingSeries = <T extends string>(
  metric: Counter<T> | Gauge<T>,
  labels: Readonly<Record<T, string>>,
  delta: 1 | -1 = 1
): (() => void) => {
  const series = metric as unknown as PromSeries
  const key = seriesKey(series, labels)
  let entry: { value: number } | undefined
  return () => {
    if (entry !== undefined && series.hashMap[key] === entry) {
      entry.value += delta
      return
    }
    if (delta === 1) metric.inc(labels)
    else (metric as Gauge<T>).dec(labels)
    entry = series.hashMap[key] as { value: number } | undefined
  }
}

/** `histogram.observe(labels, value)` for one fixed label set (`buckets`: the histogram's own). */
export const observingSeries = <T extends string>(
  histogram: Histogram<T>,
  labels: Readonly<Record<T, string>>,
  buckets: ReadonlyArray<number>
): ((value: number) => void) => {
  const series = histogram as unknown as PromSeries
  const key = seriesKey(series, labels)
  // each bound's property name in prom-client's `bucketValues`, made once: a number used as a key is turned
  // into its string on every access, which was most of an observation's time (issue 18)
  const names = buckets.map(String)
  let entry: { sum: number; count: number; bucketValues: Record<string, number> } | undefined
  return (value) => {
    if (entry !== undefined && series.hashMap[key] === entry && Number.isFinite(value)) {
      entry.sum += value
      entry.count += 1
      // as prom-client: the first bound at or above the value; above the last, only +Inf (the count)
      for (let i = 0; i < buckets.length; i++) {
        if (value <= buckets[i]!) {
          const name = names[i]!
          if (Object.hasOwn(entry.bucketValues, name)) entry.bucketValues[name]! += 1
          break
        }
      }
      return
    }
    histogram.observe(labels, value)
    entry = series.hashMap[key] as typeof entry
  }
}

/** The `api_*` and `http_*` metrics of a request. */
const declareRequestMetrics = (registers: Registers) => ({
  apiRequests: new Counter({
    name: "api_requests_total",
    help: "HTTP requests by endpoint (route template), method and status",
    labelNames: ["endpoint", "method", "status"] as const,
    registers
  }),
  apiDuration: new Histogram({
    name: "api_request_duration_seconds",
    help: "HTTP request duration by endpoint (route template) and method",
    labelNames: ["endpoint", "method"] as const,
    buckets: API_BUCKETS,
    registers
  }),
  apiErrors: new Counter({
    name: "api_errors_total",
    help: "Requests that ended in an unhandled exception",
    labelNames: ["endpoint", "error_type"] as const,
    registers
  }),
  httpRequests: new Counter({
    name: "http_requests_total",
    help: "Total number of requests by method, status and handler.",
    labelNames: ["method", "status", "handler"] as const,
    registers
  }),
  httpRequestSize: new Summary({
    name: "http_request_size_bytes",
    help: "Content length of incoming requests by handler.",
    labelNames: ["handler"] as const,
    percentiles: [],
    registers
  }),
  httpResponseSize: new Summary({
    name: "http_response_size_bytes",
    help: "Content length of outgoing responses by handler.",
    labelNames: ["handler"] as const,
    percentiles: [],
    registers
  }),
  httpDuration: new Histogram({
    name: "http_request_duration_seconds",
    help: "Latency with only few buckets by handler.",
    labelNames: ["method", "handler"] as const,
    buckets: HTTP_BUCKETS,
    registers
  }),
  httpDurationHighr: new Histogram({
    name: "http_request_duration_highr_seconds",
    help: "Latency with many buckets but no API specific labels.",
    buckets: HTTP_HIGHR_BUCKETS,
    registers
  }),
  httpInProgress: new Gauge({
    name: "http_requests_inprogress",
    help: "Number of HTTP requests in progress.",
    labelNames: ["method", "handler"] as const,
    registers
  })
})

/**
 * The label objects of one route and method, made on its first request and reused by every later one (the
 * label sets are bounded: route templates × the methods Node's parser accepts × statuses × error classes).
 */
interface RouteSeries {
  /** `{endpoint, method}` */
  readonly api: Readonly<Record<"endpoint" | "method", string>>
  /** `{method, handler}` of a tracked route (matched, not a system endpoint), else `undefined` */
  readonly http: Readonly<Record<"method" | "handler", string>> | undefined
  /** `{handler}` of a tracked route */
  readonly handler: Readonly<Record<"handler", string>> | undefined
  /** `api_request_duration_seconds{endpoint, method}` */
  readonly apiDuration: (seconds: number) => void
  /** `http_requests_inprogress{method, handler}` up and down, `http_request_duration_seconds{method, handler}` */
  readonly tracked:
    | { readonly started: () => void; readonly ended: () => void; readonly duration: (seconds: number) => void }
    | undefined
  readonly statuses: Map<
    number,
    {
      /** `api_requests_total{endpoint, method, status}` */
      readonly api: () => void
      /** `http_requests_total{method, status, handler}` */
      readonly http: (() => void) | undefined
    }
  >
  readonly errors: Map<string, Readonly<Record<"endpoint" | "error_type", string>>>
}

/** Where a request went, as the access log knows it when the request starts. */
export interface RequestRoute {
  /** Route template in Prometheus style (`/hotels/{hotel_id}`); `undefined` for unknown paths. */
  readonly handler: string | undefined
  /** `api_*` endpoint label: the template, a docs path, or `unmatched`. */
  readonly endpoint: string
  /** System endpoints are left out of the `http_*` metrics (docs/api.md §12). */
  readonly system: boolean
}

const makeRequestObserver = (metrics: ReturnType<typeof declareRequestMetrics>, enabled: boolean) => {
  const series = new Map<string, Map<string, RouteSeries>>()
  const durationHighr = observingSeries(metrics.httpDurationHighr, {}, HTTP_HIGHR_BUCKETS)
  const seriesOf = (method: string, route: RequestRoute): RouteSeries => {
    let byMethod = series.get(route.endpoint)
    if (byMethod === undefined) {
      byMethod = new Map()
      series.set(route.endpoint, byMethod)
    }
    let found = byMethod.get(method)
    if (found === undefined) {
      const handler = route.handler
      const tracked = handler !== undefined && !route.system
      const api = { endpoint: route.endpoint, method }
      const http = tracked ? { method, handler } : undefined
      found = {
        api,
        http,
        handler: tracked ? { handler } : undefined,
        apiDuration: observingSeries(metrics.apiDuration, api, API_BUCKETS),
        tracked:
          http === undefined
            ? undefined
            : {
                started: addingSeries(metrics.httpInProgress, http, 1),
                ended: addingSeries(metrics.httpInProgress, http, -1),
                duration: observingSeries(metrics.httpDuration, http, HTTP_BUCKETS)
              },
        statuses: new Map(),
        errors: new Map()
      }
      byMethod.set(method, found)
    }
    return found
  }
  const statusOf = (s: RouteSeries, status: number) => {
    let counters = s.statuses.get(status)
    if (counters === undefined) {
      const text = String(status)
      counters = {
        api: addingSeries(metrics.apiRequests, { ...s.api, status: text }),
        http:
          s.http === undefined
            ? undefined
            : addingSeries(metrics.httpRequests, { method: s.http.method, status: text, handler: s.http.handler })
      }
      s.statuses.set(status, counters)
    }
    return counters
  }
  const errorOf = (s: RouteSeries, errorType: string) => {
    let labels = s.errors.get(errorType)
    if (labels === undefined) {
      labels = { endpoint: s.api.endpoint, error_type: errorType }
      s.errors.set(errorType, labels)
    }
    return labels
  }

  /** Called when a request starts; the returned function records it when it ends. */
  return (method: string, route: RequestRoute) => {
    if (!enabled) return ignore
    const s = seriesOf(method, route)
    s.tracked?.started()
    return (o: RequestObservation) => {
      const status = statusOf(s, o.status)
      status.api()
      s.apiDuration(o.seconds)
      if (o.errorType !== undefined) metrics.apiErrors.inc(errorOf(s, o.errorType))
      if (s.tracked === undefined || status.http === undefined || s.handler === undefined) return
      s.tracked.ended()
      status.http()
      s.tracked.duration(o.seconds)
      durationHighr(o.seconds)
      if (o.requestBytes !== undefined) metrics.httpRequestSize.observe(s.handler, o.requestBytes)
      if (o.responseBytes !== undefined) metrics.httpResponseSize.observe(s.handler, o.responseBytes)
    }
  }
}

const ignore = (_: RequestObservation) => {}

export class Metrics extends Effect.Service<Metrics>()("server/Metrics", {
  effect: Effect.gen(function* () {
    const config = yield* AppConfig
    const enabled = config.metrics.enabled
    const registry = new Registry()
    collectDefaultMetrics({ register: registry })
    const registers = [registry]
    declareAppMetrics(registers)
    const counters = declareDomainCounters(registers)
    const rateLimit = declareRateLimitMetrics(registers, enabled)
    const cache = declareCacheMetrics(registers, enabled)
    declareUnusedMetrics(registers)
    const observeQuery = declareQueryMetrics(registers)
    const requestMetrics = declareRequestMetrics(registers)
    const observeRequest = makeRequestObserver(requestMetrics, enabled)
    /**
     * A request the server refused before it reached the app (`NodeServer.ts`: 400, 408, 431): counted, not
     * timed — how long it took is not known there (a 408 took the whole timeout).
     */
    const countRefused = (status: number) => {
      if (enabled) requestMetrics.apiRequests.inc({ endpoint: "unmatched", method: "-", status: String(status) })
    }
    return {
      registry,
      enabled,
      counters,
      observeRequest,
      countRefused,
      rateLimit,
      cache,
      observeQuery,
      exposition: Effect.promise(() => registry.metrics())
    } as const
  })
}) {}

/** The metrics service. */
export const MetricsLive = Metrics.Default

/**
 * The database pool's `QueryObserver`, feeding `db_*` (none when metrics are off). Provide it to the
 * database layer; it shares `MetricsLive`'s registry when both are in one layer graph.
 */
export const QueryMetricsLive = Layer.effect(
  QueryObserver,
  Effect.map(Metrics, (metrics) => ({ observe: metrics.enabled ? metrics.observeQuery : undefined }))
).pipe(Layer.provide(MetricsLive))

/**
 * One access-log line per request (docs/operations.md §4.2) and the HTTP metrics of docs/api.md §12, both labelled by
 * the route template. Fields: `method`, `route` (template), `path` (as requested, `ROOT_PATH` included),
 * `query` (credential-looking values redacted), `status`, `duration_s`, `client_ip` (see
 * `ClientAddress.ts`), `user_id` (when authenticated), `trace_id`/`span_id`, and `request_id` (the request's,
 * which the logger writes on every line of the request: `infra/Logging.ts` `currentRequestLog`). Bodies, headers
 * and cookies are never logged.
 * Probe endpoints (`/health`, `/live`, `/ready`, `/metrics`) log at DEBUG, everything else at INFO.
 */
import * as HttpServerError from "@effect/platform/HttpServerError"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { MessageWithFields } from "@shum/infra/Logging"
import { type Clock, Effect, Exit, FiberRef, LogLevel, type Tracer } from "effect"
import type { Metrics } from "../Metrics.js"
import { clientAddressOf } from "./ClientAddress.js"
import { currentRequest, type RequestNotes } from "./RequestContext.js"
import { findRoute, type RouteMatch } from "./RouteTable.js"

export type { RequestNotes }

const withNotes = (f: (notes: RequestNotes) => void) =>
  Effect.map(FiberRef.get(currentRequest), (state) => {
    if (state !== undefined) f(state.notes)
  })

/** The security middleware reports who the request is from. */
export const noteUser = (userId: string | number) =>
  withNotes((notes) => {
    notes.userId = userId
  })

/** The error mapping reports an unhandled exception (`api_errors_total{error_type}`). */
export const noteUnhandledError = (defect: unknown) =>
  withNotes((notes) => {
    notes.errorType = errorTypeOf(defect)
  })

const errorTypeOf = (defect: unknown): string => {
  if (typeof defect === "object" && defect !== null) {
    const tag = (defect as { _tag?: unknown })._tag
    if (typeof tag === "string") return tag
    const name = defect.constructor?.name
    if (typeof name === "string" && name !== "") return name
  }
  return typeof defect
}

const pathOf = (url: string) => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

const SECRET_PARAM = /token|password|secret|key|code|signature|auth/i

/** The query string with the values of credential-looking parameters replaced. */
export const redactQuery = (url: string): string => {
  const q = url.indexOf("?")
  if (q === -1 || q === url.length - 1) return ""
  const params = new URLSearchParams(url.slice(q + 1))
  for (const key of new Set(params.keys())) {
    if (SECRET_PARAM.test(key)) params.set(key, "REDACTED")
  }
  return params.toString()
}

/** `/hotels/:hotel_id` → `/hotels/{hotel_id}` (docs/api.md §12). */
export const prometheusTemplate = (template: string) => template.replace(/:([A-Za-z0-9_]+)/g, "{$1}")

const DOC_PATHS = new Set(["/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"])
const PROBES = new Set(["/health", "/health/detailed", "/live", "/ready", "/metrics"])

/** Each route's Prometheus template, computed once (a regular expression per request was measurable). */
const templates = new Map<string, string>()
const templateOf = (template: string) => {
  let out = templates.get(template)
  if (out === undefined) {
    out = prometheusTemplate(template)
    templates.set(template, out)
  }
  return out
}

/** Which route a request is for: the template, and whether it is a system endpoint (and the match itself). */
export interface Route {
  readonly match: RouteMatch | undefined
  /** The route template in Prometheus style; `undefined` for unknown paths. */
  readonly handler: string | undefined
  /** `api_*` endpoint label: the template, a docs path, or `unmatched`. */
  readonly endpoint: string
  readonly system: boolean
}

/**
 * The `Route` of each path of a route without parameters (`/health`, `/hotels`), per method, made on its first
 * request: its match is the same every time, so neither the route table's lookup nor a new `Route` is needed
 * again. Bounded by the API's routes: a path is kept only when it matched a template without parameters.
 */
const staticRoutes = new Map<string, Map<string, Route>>()

export const routeOf = (method: string, path: string): Route => {
  const routed = method === "HEAD" ? "GET" : method
  const known = staticRoutes.get(routed)?.get(path)
  if (known !== undefined) return known
  const match = findRoute(routed, path)
  const handler = match === undefined ? undefined : templateOf(match.route.template)
  const route: Route = {
    match,
    handler,
    endpoint: handler ?? (DOC_PATHS.has(path) ? path : "unmatched"),
    system: match?.route.groupName === "system"
  }
  if (match !== undefined && !match.route.template.includes(":") && path === match.route.template) {
    let byPath = staticRoutes.get(routed)
    if (byPath === undefined) {
      byPath = new Map()
      staticRoutes.set(routed, byPath)
    }
    byPath.set(path, route)
  }
  return route
}

const contentLength = (value: string | undefined): number | undefined => {
  const n = value === undefined ? Number.NaN : Number(value)
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

const bodySize = (response: HttpServerResponse.HttpServerResponse): number | undefined => {
  const body = response.body
  switch (body._tag) {
    case "Empty":
      return 0
    case "Uint8Array":
      return body.contentLength
    case "Raw":
    case "Stream":
      return body.contentLength ?? contentLength(response.headers["content-length"])
    default:
      return undefined
  }
}

/** What a request's access log needs when it ends; see `RequestPipeline.ts`, which calls it. */
export interface AccessLog {
  /** Facts the security middleware and the error mapping report (`noteUser`, `noteUnhandledError`). */
  readonly notes: RequestNotes
  /** Records the request: the HTTP metrics and the access-log line (skipped when its level is filtered out). */
  readonly record: <E>(exit: Exit.Exit<HttpServerResponse.HttpServerResponse, E>) => Effect.Effect<void>
}

/**
 * Starts the access log of `request` (after its client address was resolved): counts it in progress and
 * remembers when it started. `minimumLevel` is the logger's: a probe's DEBUG line is not even formatted
 * when it would be dropped.
 */
export const startAccessLog = (
  request: HttpServerRequest.HttpServerRequest,
  route: Route,
  metrics: typeof Metrics.Service,
  span: Tracer.Span | undefined,
  clock: Clock.Clock,
  minimumLevel: LogLevel.LogLevel
): AccessLog => {
  const startedAt = clock.unsafeCurrentTimeNanos()
  const path = pathOf(request.url)
  const finish = metrics.observeRequest(request.method, route)
  const notes: RequestNotes = { userId: undefined, errorType: undefined }
  const level = PROBES.has(path) ? LogLevel.Debug : LogLevel.Info

  // on exit, not after: a request cut short (client gone, shutdown) is still counted and logged
  const record = <E>(exit: Exit.Exit<HttpServerResponse.HttpServerResponse, E>) =>
    Effect.suspend(() => {
      const response = Exit.isSuccess(exit) ? exit.value : HttpServerError.causeResponseStripped(exit.cause)[0]
      const seconds = Number(clock.unsafeCurrentTimeNanos() - startedAt) / 1e9
      finish({
        status: response.status,
        seconds,
        // a refused body (413) was never read: its claimed size would inflate the metric at will
        requestBytes: response.status === 413 ? 0 : contentLength(request.headers["content-length"]),
        responseBytes: bodySize(response),
        errorType: notes.errorType
      })
      if (LogLevel.lessThan(level, minimumLevel)) return Effect.void
      const client = clientAddressOf(request)
      const query = redactQuery(request.url)
      const fields: Record<string, unknown> = {
        logger: "http.access",
        method: request.method,
        route: route.handler ?? null,
        path: pathOf(request.originalUrl),
        status: response.status,
        duration_s: Math.round(seconds * 1000) / 1000,
        client_ip: client
      }
      if (query !== "") fields.query = query
      if (notes.userId !== undefined) fields.user_id = notes.userId
      if (notes.errorType !== undefined) fields.error_type = notes.errorType
      if (span !== undefined) {
        fields.trace_id = span.traceId
        fields.span_id = span.spanId
      }
      const target = `${pathOf(request.originalUrl)}${query === "" ? "" : `?${query}`}`
      const line = `${client} - "${request.method} ${target}" ${response.status} ${seconds.toFixed(3)}s`
      // its fields with the line itself, not annotated around it (`MessageWithFields`: no fiber-local update)
      return Effect.logWithLevel(level, new MessageWithFields(line, fields))
    })

  return { notes, record }
}

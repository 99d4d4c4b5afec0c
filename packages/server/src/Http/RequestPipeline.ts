/**
 * What the server does around every request before the API sees it, as one middleware (five separate ones
 * cost about 200 µs of CPU per request — each wraps the request's effect again and updates fiber-local
 * state — the service's own `/health` twice over; `npm run bench`):
 * 1. the client address (`ClientAddress.ts`, trusted proxies) replaces the peer for everything downstream;
 * 2. `X-Request-Id` (D8, the client's when sane, else a new UUID): on the response, the trace span,
 *    every log line of the request and the audit rows it writes (`currentRequestId`, docs/decisions.md D17);
 * 3. the access-log line and the HTTP metrics (`AccessLog.ts`), when the request ends however it ends;
 * 4. while shutting down, `Connection: close` (`Lifecycle.ts`), so kept-alive connections end;
 * 5. the catalogue's strong `ETag` and `304` (D7, `Etag.ts`), for its `GET`s only;
 * 6. the request body, read and bounded by `MAX_JSON_BODY_KB` before anything buffers it (413 beyond;
 *    `BodyLimit.ts`, docs/decisions.md D11) — multipart uploads keep their own limit;
 * 7. `Cache-Control: no-store` on the answers that carry tokens (docs/decisions.md D14): sign-in and refresh,
 *    recognised by the route they matched.
 * 8. `Warning` naming the query parameters the endpoint does not declare (`UnknownParams.ts`).
 * The response headers (2, 4, 5, 7, 8, and the security headers of D14, `SecurityHeaders.ts`) are set by one
 * pre-response handler, in one copy of the response's headers, on the final response (after the error
 * mapping) just before it is written; the rate limit's handler, added inside the API, runs after it. That
 * handler is installed once, where the server starts (`HttpLive.ts`), and every request's fiber inherits it:
 * it finds the request's facts in the request's state (`RequestContext.ts` `currentRequest`).
 *
 * The request's fiber-local value — its state (id and notes for the access log, `currentRequest`), which the
 * loggers also read the `request_id` and `trace_id` of every line of the request from (`infra/Logging.ts`
 * `currentRequestLog`) — is set once for the rest of the request's fiber, not set and restored around the app:
 * the server runs each request in a fiber of its own that ends with it, and the restoring wrappers
 * (`Effect.locally`, `Effect.annotateLogs`) cost about 75 µs of CPU per request; each update copies the
 * fiber's map of fiber-locals, so there is one, not five (issue 18, bench/README.md).
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Clock, Context, DefaultServices, Effect, FiberRef, Option } from "effect"
import { Lifecycle } from "../Lifecycle.js"
import { Metrics } from "../Metrics.js"
import { type Route, routeOf, startAccessLog } from "./AccessLog.js"
import { withBoundedBody } from "./BodyLimit.js"
import { resolveClientAddress, trustedProxies } from "./ClientAddress.js"
import { isCatalogueRoute, withValidators } from "./Etag.js"
import { currentRequest, type RequestNotes, type RequestState, requestIdOf } from "./RequestContext.js"
import { withHeaders } from "./ResponseHeaders.js"
import { SECURITY_HEADERS } from "./SecurityHeaders.js"
import { unknownParamsWarning, unknownQueryParams } from "./UnknownParams.js"

/** D14: the routes whose answers hold tokens, never to be stored by a cache (all `POST`s). */
const TOKEN_ROUTES: ReadonlySet<string> = new Set(["/auth/login", "/auth/refresh"])

/**
 * What sets a fiber-local from inside `Effect.withFiberRuntime` without an effect of its own: the runtime fiber's
 * `setFiberRef`, which `FiberRef.set` itself calls (the public fiber type has only `getFiberRef`). Each
 * `FiberRef.set` is two more of Effect's steps and a `zipRight` per request (issue 18, bench/README.md); where a
 * runtime lacks the method, `FiberRef.set` does it.
 */
interface SettableFiber {
  setFiberRef<A>(fiberRef: FiberRef.FiberRef<A>, value: A): void
}
const isSettable = (fiber: unknown): fiber is SettableFiber =>
  typeof (fiber as Partial<SettableFiber>).setFiberRef === "function"

const pathOf = (url: string) => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

/** One request as the pipeline runs it: its `RequestState`, and what its response headers need. */
class PipelineRequest implements RequestState {
  sessionHolder: object | undefined = undefined
  laterHeaders: Record<string, string> | undefined = undefined
  constructor(
    readonly id: string,
    /** the request's span's trace, written as `trace_id` on its log lines (`infra/Logging.ts`) */
    readonly traceId: string | undefined,
    readonly notes: RequestNotes,
    /** the request with its client address resolved */
    readonly request: HttpServerRequest.HttpServerRequest,
    readonly route: Route
  ) {}
}

/** The request pipeline: the middleware, and the pre-response handler the server must carry (`HttpLive.ts`). */
export interface RequestPipeline {
  readonly middleware: <E, R>(app: HttpApp.Default<E, R>) => HttpApp.Default<E, R>
  /**
   * Sets the response headers of steps 2, 4, 5, 7 and 8 and the security headers on the final response of a
   * request the middleware runs (any other answer passes unchanged). Installed once, in the fiber that
   * starts the server, so every request's fiber inherits it instead of setting a fiber-local per request.
   */
  readonly preResponseHandler: HttpApp.PreResponseHandler
}

/**
 * The pipeline, built once with the services it uses (its type names them: the metrics and the lifecycle
 * flag).
 */
export const makeRequestPipeline = (options: {
  readonly trustedProxies: ReadonlyArray<string>
  /** `MAX_JSON_BODY_KB` */
  readonly maxJsonBodyKb: number
}): Effect.Effect<RequestPipeline, never, Metrics | Lifecycle> =>
  Effect.gen(function* () {
    const metrics = yield* Metrics
    const lifecycle = yield* Lifecycle
    const trusted = trustedProxies(options.trustedProxies)
    const boundedBody = withBoundedBody(options.maxJsonBodyKb)

    /** The response headers of steps 2, 4, 5, 7 and 8 and the security headers, on the final response. */
    const responseHeaders = (
      state: PipelineRequest,
      response: HttpServerResponse.HttpServerResponse
    ): HttpServerResponse.HttpServerResponse => {
      // the security headers' record spelt out (a literal, not a spread of `SECURITY_HEADERS`), same order
      const headers: Record<string, string> = {
        "x-content-type-options": SECURITY_HEADERS["x-content-type-options"]!,
        "referrer-policy": SECURITY_HEADERS["referrer-policy"]!,
        "x-request-id": state.id
      }
      if (lifecycle.unsafeIsShuttingDown()) headers["connection"] = "close"
      const match = state.route.match
      if (match === undefined) return withHeaders(response, headers)
      const request = state.request
      const method = request.method
      if (method === "POST" && TOKEN_ROUTES.has(match.route.template)) headers["cache-control"] = "no-store"
      const unknown = unknownQueryParams(match.route, request.url)
      if (unknown.length > 0) headers["warning"] = unknownParamsWarning(unknown)
      const out = withHeaders(response, headers)
      return method === "GET" && isCatalogueRoute(match) ? withValidators(request, out) : out
    }

    // then the headers set later in the request (`setLaterHeaders`: the rate limit's, `Location`), last
    const preResponseHandler: HttpApp.PreResponseHandler = (_request, response) =>
      Effect.withFiberRuntime((fiber) => {
        const state = fiber.getFiberRef(currentRequest)
        if (!(state instanceof PipelineRequest)) return Effect.succeed(response)
        const out = responseHeaders(state, response)
        const later = state.laterHeaders
        return Effect.succeed(later === undefined ? out : withHeaders(out, later))
      })

    const middleware = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
      Effect.withFiberRuntime<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest>(
        (fiber) => {
          const received = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
          const peer = Option.getOrUndefined(received.remoteAddress)
          const client = resolveClientAddress(peer, received.headers, trusted)
          const request =
            client === undefined || client === peer ? received : received.modify({ remoteAddress: client })

          const id = requestIdOf(request)
          const current = fiber.currentSpan
          const span = current?._tag === "Span" ? current : undefined
          span?.attribute("http.request_id", id)

          const route = routeOf(request.method, pathOf(request.url))
          const clock = Context.get(fiber.getFiberRef(DefaultServices.currentServices), Clock.Clock)
          const access = startAccessLog(
            request,
            route,
            metrics,
            span,
            clock,
            fiber.getFiberRef(FiberRef.currentMinimumLogLevel)
          )
          const state = new PipelineRequest(id, span?.traceId, access.notes, request, route)
          // an answer the pipeline gives itself (a 413) is written without the pre-response handlers
          const early = (response: HttpServerResponse.HttpServerResponse) =>
            Effect.succeed(responseHeaders(state, response))

          // This runs in the request's own fiber (the server forks one per request), which ends with it: the
          // fiber-local is set for the rest of it rather than set and restored around the app, and only one: the
          // request's state, which the loggers read its `request_id` and `trace_id` from (no log annotation) —
          // here, in this step, not by an effect more.
          const run = Effect.onExit(boundedBody(request, app, early), access.record)
          let handled: typeof run
          if (isSettable(fiber)) {
            fiber.setFiberRef(currentRequest, state)
            handled = run
          } else {
            handled = Effect.zipRight(FiberRef.set(currentRequest, state), run)
          }
          return request === received
            ? handled
            : Effect.provideService(handled, HttpServerRequest.HttpServerRequest, request)
        }
      )

    return { middleware, preResponseHandler }
  })

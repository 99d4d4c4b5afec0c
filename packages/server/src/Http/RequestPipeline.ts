/**
 * What the server does around every request before the API sees it, as one middleware (five separate ones
 * cost about 200 µs of CPU per request — each wraps the request's effect again and updates fiber-local
 * state — the service's own `/health` twice over; `npm run bench`):
 * 1. the client address (`ClientAddress.ts`, trusted proxies) replaces the peer for everything downstream;
 * 2. `X-Request-Id` (D8, the client's when sane, else a new UUID): on the response, the trace span and
 *    every log line of the request;
 * 3. the access-log line and the HTTP metrics (`AccessLog.ts`), when the request ends however it ends;
 * 4. while shutting down, `Connection: close` (`Lifecycle.ts`), so kept-alive connections end;
 * 5. the catalogue's strong `ETag` and `304` (D7, `Etag.ts`), for its `GET`s only;
 * 6. the request body, read and bounded by `MAX_JSON_BODY_KB` before anything buffers it (413 beyond;
 *    `BodyLimit.ts`, docs/decisions.md D11) — multipart uploads keep their own limit;
 * 7. `Cache-Control: no-store` on the answers that carry tokens (docs/decisions.md D14): sign-in and refresh,
 *    recognised by the route they matched.
 * 8. `Warning` naming the query parameters the endpoint does not declare (`UnknownParams.ts`).
 * The response headers (2, 4, 5, 7, 8) are set by one pre-response handler, which runs on the final response
 * (after the error mapping) just before it is written; the rate limit's handler, added inside the API,
 * runs after it.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Clock, Context, DefaultServices, Effect, FiberRef, Option } from "effect"
import { Lifecycle } from "../Lifecycle.js"
import { Metrics } from "../Metrics.js"
import { currentNotes, routeOf, startAccessLog } from "./AccessLog.js"
import { withBoundedBody } from "./BodyLimit.js"
import { resolveClientAddress, trustedProxies } from "./ClientAddress.js"
import { isCatalogueRoute, withValidators } from "./Etag.js"
import { requestIdOf } from "./RequestContext.js"
import { unknownParamsWarning, unknownQueryParams } from "./UnknownParams.js"

/** D14: the routes whose answers hold tokens, never to be stored by a cache. */
const TOKEN_ROUTES: ReadonlySet<string> = new Set(["POST /auth/login", "POST /auth/refresh"])

const pathOf = (url: string) => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

export const requestPipeline = (options: {
  readonly trustedProxies: ReadonlyArray<string>
  /** `MAX_JSON_BODY_KB` */
  readonly maxJsonBodyKb: number
}): (<E, R>(app: HttpApp.Default<E, R>) => HttpApp.Default<E, R>) => {
  const trusted = trustedProxies(options.trustedProxies)
  const boundedBody = withBoundedBody(options.maxJsonBodyKb)
  return <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
    Effect.withFiberRuntime<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest>(
      (fiber) => {
        const context = fiber.currentContext
        const received = Context.unsafeGet(context, HttpServerRequest.HttpServerRequest)
        const peer = Option.getOrUndefined(received.remoteAddress)
        const client = resolveClientAddress(peer, received.headers, trusted)
        const request = client === undefined || client === peer ? received : received.modify({ remoteAddress: client })

        const id = requestIdOf(request)
        const current = fiber.currentSpan
        const span = current?._tag === "Span" ? current : undefined
        span?.attribute("http.request_id", id)

        const route = routeOf(request.method, pathOf(request.url))
        const clock = Context.get(fiber.getFiberRef(DefaultServices.currentServices), Clock.Clock)
        const access = startAccessLog(
          request,
          route,
          Context.unsafeGet(context, Metrics),
          span,
          clock,
          fiber.getFiberRef(FiberRef.currentMinimumLogLevel)
        )

        const lifecycle = Context.unsafeGet(context, Lifecycle)
        const catalogueRead = request.method === "GET" && isCatalogueRoute(route.match)
        const tokens = route.match !== undefined && TOKEN_ROUTES.has(`${request.method} ${route.match.route.template}`)
        const finish = (response: HttpServerResponse.HttpServerResponse) =>
          Effect.map(lifecycle.isShuttingDown, (closing) => {
            let out = HttpServerResponse.setHeader(response, "x-request-id", id)
            if (closing) out = HttpServerResponse.setHeader(out, "connection", "close")
            if (tokens) out = HttpServerResponse.setHeader(out, "cache-control", "no-store")
            const unknown = route.match === undefined ? [] : unknownQueryParams(route.match.route, request.url)
            if (unknown.length > 0) out = HttpServerResponse.setHeader(out, "warning", unknownParamsWarning(unknown))
            return catalogueRead ? withValidators(request, out) : out
          })
        const headers = HttpApp.appendPreResponseHandler((_request, response) => finish(response))

        const handled = Effect.zipRight(
          headers,
          Effect.locally(boundedBody(request, app, finish), currentNotes, access.notes)
        ).pipe(
          Effect.onExit((exit) => access.record(exit)),
          Effect.annotateLogs(span === undefined ? { request_id: id } : { request_id: id, trace_id: span.traceId })
        )
        return request === received
          ? handled
          : Effect.provideService(handled, HttpServerRequest.HttpServerRequest, request)
      }
    )
}

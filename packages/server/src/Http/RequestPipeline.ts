/**
 * What the server does around every request before the API sees it, as one middleware (five separate ones
 * cost about 200 µs of CPU per request — each wraps the request's effect again and updates fiber-local
 * state — the service's own `/health` twice over; `npm run bench`):
 * 1. the client address (`ClientAddress.ts`, trusted proxies) replaces the peer for everything downstream;
 * 2. `X-Request-Id` (D8, the client's when sane, else a new UUID): on the response, the trace span and
 *    every log line of the request;
 * 3. the access-log line and the HTTP metrics (`AccessLog.ts`), when the request ends however it ends;
 * 4. while shutting down, `Connection: close` (`Lifecycle.ts`), so kept-alive connections end;
 * 5. the catalogue's strong `ETag` and `304` (D7, `Etag.ts`), for its `GET`s only.
 * The response headers (2, 4, 5) are set by one pre-response handler, which runs on the final response
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
import { resolveClientAddress, trustedProxies } from "./ClientAddress.js"
import { isCatalogueRoute, withValidators } from "./Etag.js"
import { requestIdOf } from "./RequestContext.js"

const pathOf = (url: string) => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

export const requestPipeline = (
  trustedProxyCidrs: ReadonlyArray<string>
): (<E, R>(app: HttpApp.Default<E, R>) => HttpApp.Default<E, R>) => {
  const trusted = trustedProxies(trustedProxyCidrs)
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
        const headers = HttpApp.appendPreResponseHandler((_request, response) =>
          Effect.map(lifecycle.isShuttingDown, (closing) => {
            let out = HttpServerResponse.setHeader(response, "x-request-id", id)
            if (closing) out = HttpServerResponse.setHeader(out, "connection", "close")
            return catalogueRead ? withValidators(request, out) : out
          })
        )

        const handled = Effect.zipRight(headers, Effect.locally(app, currentNotes, access.notes)).pipe(
          Effect.onExit((exit) => access.record(exit)),
          Effect.annotateLogs(span === undefined ? { request_id: id } : { request_id: id, trace_id: span.traceId })
        )
        return request === received
          ? handled
          : Effect.provideService(handled, HttpServerRequest.HttpServerRequest, request)
      }
    )
}

/**
 * A catalogue cache hit answered before the router (issue 18, bench/README.md "A hit's own path"): a `GET` whose
 * raw target (path and query as sent, after `ROOT_PATH`) was already decoded by its endpoint and answered `200`
 * gets the kept answer (`CatalogueCache.early`) without the router's context copy, its matching, the endpoint's
 * decoding of the parameters and the handler — under the same rule as every hit (docs/decisions.md D7: the
 * version is read for the request, and only an answer stamped with it is given; else the router answers).
 *
 * It is an `HttpApiBuilder.middleware`, the innermost of the API's (`HttpLive.ts` adds it before the error
 * mapping and the rate limit), so everything around the router runs for it as for a routed answer: the rate
 * limit counts and refuses it (D4), its `RateLimit-*` and the pipeline's headers (`X-Request-Id`, `ETag` and
 * `304`, `Warning`, the security headers) are set by the same pre-response handlers, and the access line and the
 * `api_*` metrics take the route from the route table (`Http/AccessLog.ts`) as they do for any request. What the
 * router does besides answering is done here: the request span's `http.route` attribute, the endpoint's template.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Context, Effect } from "effect"
import { routeOf } from "../Http/AccessLog.js"
import { CatalogueCache } from "./CatalogueCache.js"

const pathOf = (url: string) => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

const makeEarly = Effect.map(
  CatalogueCache,
  (cache) =>
    <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
      Effect.withFiberRuntime((fiber) => {
        const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
        if (request.method !== "GET") return app
        const early = cache.early(request.url)
        if (early === undefined) return app
        // the attribute the router sets on the request's span before its handler runs (`HttpRouter.toHttpApp`):
        // the endpoint's path — set before the version read, so a failed read's span carries it as the router's
        const template = routeOf(request.method, pathOf(request.url)).match?.route.template
        const span = fiber.currentSpan
        if (template !== undefined && span?._tag === "Span") span.attribute("http.route", template)
        return Effect.flatMap(early, (response) => (response === undefined ? app : Effect.succeed(response)))
      })
)

/** Added before `RateLimitLive` and `ErrorMappingLive`, so it runs inside both (`HttpLive.ts`). */
export const CatalogueEarlyLive = HttpApiBuilder.middleware(makeEarly)

/**
 * The HTTP application: the `ShumApi` groups, docs, error mapping and per-request middleware.
 * Needs the services of `Services.ts` and an `HttpServer`; `main.ts` provides both.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as OpenApi from "@effect/platform/OpenApi"
import { ShumApi } from "@shum/domain/Api"
import { AppConfig } from "@shum/infra/Config"
import { Effect, Layer } from "effect"
import { AuditLive } from "./Audit/AuditHttp.js"
import { AuthLive } from "./Auth/AuthHttp.js"
import { SecurityLive } from "./Auth/AuthMiddleware.js"
import { BookingsLive } from "./Bookings/BookingsHttp.js"
import { HoldsLive } from "./Holds/HoldsHttp.js"
import { CitiesLive, CountriesLive, FacilitiesLive, HotelsLive, RoomsLive } from "./Catalogue/CatalogueLayers.js"
import { DocsLive } from "./Http/Docs.js"
import { cors } from "./Http/Cors.js"
import { ErrorMappingLive } from "./Http/ErrorMapping.js"
import { stripRootPath } from "./Http/RequestContext.js"
import { makeRequestPipeline } from "./Http/RequestPipeline.js"
import { ROUTER_CONFIG } from "./Http/RouteTable.js"
import { securityHeaders } from "./Http/SecurityHeaders.js"
import { ImagesHttpLive, ImagesLive } from "./Images/ImagesHttp.js"
import { RateLimitLive } from "./RateLimit/RateLimitMiddleware.js"
import { SystemLive } from "./System/SystemHttp.js"
import { UsersLive } from "./Users/UsersHttp.js"
import { WebhooksLive } from "./Webhooks/WebhooksHttp.js"

const GroupsLive = Layer.mergeAll(
  SystemLive,
  AuthLive,
  UsersLive,
  HotelsLive,
  RoomsLive,
  BookingsLive,
  HoldsLive,
  FacilitiesLive,
  ImagesLive,
  CountriesLive,
  CitiesLive,
  WebhooksLive,
  AuditLive
)

/**
 * The API as documented: `servers` is this server (`/`), or with `ROOT_PATH` the prefix, so "Try it out" and
 * generated clients call the public path (docs/api.md §1.1).
 */
export const documentedApi = (rootPath: string) =>
  rootPath === "" ? ShumApi : ShumApi.annotate(OpenApi.Servers, [{ url: rootPath, description: "Production server" }])

const ApiLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => HttpApiBuilder.api(documentedApi(config.http.rootPath)))
).pipe(Layer.provide(GroupsLive), Layer.provide(SecurityLive))

/**
 * Per request, outermost first: the security headers (D14, `SecurityHeaders.ts`) → `ROOT_PATH` → CORS →
 * `RequestPipeline.ts` (client address, `X-Request-Id`, access log and HTTP metrics, `Connection: close`
 * while shutting down, ETag, `no-store` on token answers) → the API, where the rate limit and the error
 * mapping run (`HttpApiBuilder.middleware`, so their answers get the headers). The router matches paths
 * exactly (D12, `ROUTER_CONFIG`), with the matching the route table the middlewares consult uses.
 */
export const HttpLive = Layer.unwrapEffect(
  Effect.gen(function* () {
    const { http } = yield* AppConfig
    const requestPipeline = yield* makeRequestPipeline(http)
    return HttpApiBuilder.serve((app) =>
      securityHeaders(stripRootPath(http.rootPath)(cors(http.corsOrigins)(requestPipeline(app))))
    )
  })
).pipe(
  Layer.provide([DocsLive, ErrorMappingLive, RateLimitLive, ImagesHttpLive]),
  Layer.provide(ApiLive),
  Layer.provide(HttpRouter.setRouterConfig(ROUTER_CONFIG)),
  HttpServer.withLogAddress
)

/**
 * The HTTP application: the `ShumApi` groups, docs, error mapping and per-request middleware.
 * Needs the services of `Services.ts` and an `HttpServer`; `main.ts` provides both.
 */
import { HttpApiBuilder, HttpApiSwagger, HttpServer, OpenApi } from "@effect/platform"
import { ShumApi } from "@shum/domain/Api"
import { AppConfig } from "@shum/infra/Config"
import { Effect, Layer } from "effect"
import { AuthLive } from "./Auth/Http.js"
import { SecurityLive } from "./Auth/Middleware.js"
import { BookingsLive } from "./Bookings/Http.js"
import { CitiesLive, CountriesLive, FacilitiesLive, HotelsLive, RoomsLive } from "./Catalogue/Layers.js"
import { accessLog } from "./Http/AccessLog.js"
import { clientAddress } from "./Http/ClientAddress.js"
import { ErrorMappingLive } from "./Http/ErrorMapping.js"
import { etag } from "./Http/Etag.js"
import { requestId, stripRootPath } from "./Http/RequestContext.js"
import { ImagesHttpLive, ImagesLive } from "./Images/Http.js"
import { closeConnectionsWhenShuttingDown } from "./Lifecycle.js"
import { RateLimitLive } from "./RateLimit/Middleware.js"
import { SystemLive } from "./System/Http.js"
import { UsersLive } from "./Users/Http.js"

const GroupsLive = Layer.mergeAll(
  SystemLive,
  AuthLive,
  UsersLive,
  HotelsLive,
  RoomsLive,
  BookingsLive,
  FacilitiesLive,
  ImagesLive,
  CountriesLive,
  CitiesLive
)

/** The API as documented: with `ROOT_PATH`, OpenAPI `servers` points at it so "Try it out" works (§1.1). */
const documentedApi = (rootPath: string) =>
  rootPath === "" ? ShumApi : ShumApi.annotate(OpenApi.Servers, [{ url: rootPath, description: "Production server" }])

export const ApiLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => HttpApiBuilder.api(documentedApi(config.http.rootPath)))
).pipe(Layer.provide(GroupsLive), Layer.provide(SecurityLive))

const DocsLive = Layer.mergeAll(
  HttpApiSwagger.layer({ path: "/docs" }),
  HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })
)

/**
 * Per request, outermost first: `ROOT_PATH` → client address (trusted proxies) → `X-Request-Id` →
 * access log and HTTP metrics → `Connection: close` while shutting down → ETag → the API, where the
 * rate limit and the error mapping run (`HttpApiBuilder.middleware`, so their answers get the headers).
 */
export const HttpLive = Layer.unwrapEffect(
  Effect.map(AppConfig, ({ http }) =>
    HttpApiBuilder.serve((app) =>
      stripRootPath(http.rootPath)(
        clientAddress(http.trustedProxies)(requestId(accessLog(closeConnectionsWhenShuttingDown(etag(app)))))
      )
    )
  )
).pipe(
  Layer.provide([DocsLive, ErrorMappingLive, RateLimitLive, ImagesHttpLive]),
  Layer.provide(ApiLive),
  HttpServer.withLogAddress
)

/**
 * The HTTP application: the `ShumApi` groups, docs, error mapping and per-request middleware.
 * Needs the services of `Services.ts` and an `HttpServer`; `main.ts` provides both.
 */
import * as Etag from "@effect/platform/Etag"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpPlatform from "@effect/platform/HttpPlatform"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Path from "@effect/platform/Path"
import { ShumApi } from "@shum/domain/Api"
import { AppConfig } from "@shum/infra/Config"
import { Context, Effect, FiberRef, Layer, Option, Scope } from "effect"
import { AuditLive } from "./Audit/AuditHttp.js"
import { AuthLive } from "./Auth/AuthHttp.js"
import { SecurityLive } from "./Auth/AuthMiddleware.js"
import { BookingsLive } from "./Bookings/BookingsHttp.js"
import { HoldsLive } from "./Holds/HoldsHttp.js"
import { CatalogueEarlyLive } from "./Catalogue/CatalogueEarly.js"
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
 * `HttpApiBuilder.serve`, except that each request's fiber starts from a context holding only what the
 * platform reads per request — the scope, the server, and what file answers use (`HttpPlatform`,
 * `Etag.Generator`, `FileSystem`, `Path`) — instead of the whole application's (about 55 services). Handlers
 * took their services when their group was built (every group is built by `Http/ClosedGroup.ts`), and the
 * middlewares took theirs when they were built (the platform's types allow a request nothing else).
 * What every request copies and compares — the platform's `provideService` of the request, the router's copy
 * of the context, the group's merge, each `Effect.locally` of the context — is then a few entries long, not
 * sixty (issue 18, bench/README.md).
 */
type PerRequest = Scope.Scope | HttpServer.HttpServer | HttpRouter.HttpRouter.DefaultServices

/**
 * Fiber-locals this fiber holds that no request reads: the router's configuration (`ROUTER_CONFIG`, read once,
 * when the router is built: `HttpRouter.toHttpApp`) and the scheduling priority (set by the runtime to its
 * initial value, 0, which a fiber without it reads all the same). Each request's fiber starts with a copy of
 * this fiber's fiber-locals and every fiber-local update of the request copies them again (ten per request,
 * eight of them the platform's), so each one left out is a map entry less per copy (issue 18, bench/README.md).
 */
const BUILD_LOCALS: ReadonlyArray<FiberRef.FiberRef<unknown>> = [
  HttpRouter.currentRouterConfig as FiberRef.FiberRef<unknown>,
  FiberRef.currentSchedulingPriority as FiberRef.FiberRef<unknown>
]

/** `effect` run without `BUILD_LOCALS` (the server's handler takes this fiber's locals), then set back. */
const withoutBuildLocals = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) => {
    const held = BUILD_LOCALS.filter((ref) => fiber.getFiberRefs().locals.has(ref))
    if (held.length === 0) return effect
    const values = held.map((ref) => fiber.getFiberRef(ref))
    return Effect.forEach(held, FiberRef.delete, { discard: true }).pipe(
      Effect.zipRight(effect),
      Effect.ensuring(Effect.forEach(held, (ref, i) => FiberRef.set(ref, values[i]), { discard: true }))
    )
  })

const serve = (
  middleware: <E, R>(app: HttpApp.Default<E, R>) => HttpApp.Default<E, R>,
  preResponseHandler: HttpApp.PreResponseHandler
) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const app = yield* HttpApiBuilder.httpApp
      const server = yield* HttpServer.HttpServer
      const perRequest: Context.Context<PerRequest> = Context.pick(
        Scope.Scope,
        HttpServer.HttpServer,
        HttpPlatform.HttpPlatform,
        Etag.Generator,
        FileSystem.FileSystem,
        Path.Path
      )(yield* Effect.context<PerRequest>())
      const served: Effect.Effect<void, never, PerRequest> = server.serve(app, middleware)
      // the server takes the fiber-local values of this fiber for every request's fiber it starts: the handler
      // set here is every request's without a fiber-local update per request; and those read only while the
      // app was built are left out of them (`withoutBuildLocals`)
      yield* Effect.mapInputContext(served, (_: Context.Context<never>) => perRequest).pipe(
        Effect.locally(HttpApp.currentPreResponseHandlers, Option.some(preResponseHandler)),
        withoutBuildLocals
      )
    })
  ).pipe(Layer.provide([HttpApiBuilder.Router.Live, HttpApiBuilder.Middleware.layer]))

/**
 * Per request, outermost first: the security headers (D14, `SecurityHeaders.ts`; only with `CORS_ORIGINS`, whose
 * preflight is the one answer given outside the pipeline) → `ROOT_PATH` → CORS →
 * `RequestPipeline.ts` (client address, `X-Request-Id`, access log and HTTP metrics, `Connection: close`
 * while shutting down, ETag, `no-store` on token answers) → the API, where the rate limit and the error
 * mapping run (`HttpApiBuilder.middleware`, so their answers get the headers), then, innermost, the catalogue's
 * early answer of a kept `GET` target (`Catalogue/CatalogueEarly.ts`), then the router. The router matches paths
 * exactly (D12, `ROUTER_CONFIG`), with the matching the route table the middlewares consult uses.
 */
export const HttpLive = Layer.unwrapEffect(
  Effect.gen(function* () {
    const { http } = yield* AppConfig
    const pipeline = yield* makeRequestPipeline(http)
    const withCors = cors(http.corsOrigins)
    // the security headers' own middleware only where a middleware outside the pipeline may answer (CORS's
    // preflight): `ROOT_PATH` never answers, and the pipeline's answers carry them already — a step less per
    // request otherwise (issue 18)
    const outer = http.corsOrigins.length === 0 ? <E, R>(app: HttpApp.Default<E, R>) => app : securityHeaders
    return serve(
      (app) => outer(stripRootPath(http.rootPath)(withCors(pipeline.middleware(app)))),
      pipeline.preResponseHandler
    )
  })
).pipe(
  Layer.provide([DocsLive, ErrorMappingLive, RateLimitLive, ImagesHttpLive]),
  // built first, so the innermost of the API's middlewares (each one added wraps those added before it): a
  // catalogue hit answered before the router is rate limited and error mapped like a routed one
  Layer.provide(CatalogueEarlyLive),
  Layer.provide(ApiLive),
  Layer.provide(HttpRouter.setRouterConfig(ROUTER_CONFIG)),
  HttpServer.withLogAddress
)

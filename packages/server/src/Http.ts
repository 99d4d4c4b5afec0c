/**
 * The HTTP application: the `ShumApi` groups, docs, error mapping and per-request middleware.
 * Needs the services of `Services.ts` and an `HttpServer`; `main.ts` provides both.
 */
import { HttpApiBuilder, HttpApiSwagger, HttpMiddleware, HttpServer, OpenApi } from "@effect/platform"
import { ShumApi } from "@shum/domain/Api"
import { AppConfig } from "@shum/infra/Config"
import { Effect, Layer } from "effect"
import { AuthLive } from "./Auth/Http.js"
import { SecurityLive } from "./Auth/Middleware.js"
import { ErrorMappingLive } from "./Http/ErrorMapping.js"
import { notImplementedGroup } from "./Http/NotImplemented.js"
import { requestId, stripRootPath } from "./Http/RequestContext.js"
import { SystemLive } from "./System/Http.js"
import { UsersLive } from "./Users/Http.js"

const GroupsLive = Layer.mergeAll(
  SystemLive,
  AuthLive,
  UsersLive,
  notImplementedGroup("hotels"),
  notImplementedGroup("rooms"),
  notImplementedGroup("bookings"),
  notImplementedGroup("facilities"),
  notImplementedGroup("images"),
  notImplementedGroup("countries"),
  notImplementedGroup("cities")
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

export const HttpLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    HttpApiBuilder.serve((app) => stripRootPath(config.http.rootPath)(requestId(HttpMiddleware.logger(app))))
  )
).pipe(Layer.provide([DocsLive, ErrorMappingLive]), Layer.provide(ApiLive), HttpServer.withLogAddress)

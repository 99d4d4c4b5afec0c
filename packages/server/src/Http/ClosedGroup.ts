/**
 * `HttpApiBuilder.group` for a group whose handlers took their services when the group was built.
 *
 * `HttpApiBuilder.group` keeps the whole context its layer was built in — every service of the application,
 * about 55 — and merges it into each handler call's context (`Context.merge`, a copy of all of them, then a
 * fiber-local update to install it and another to restore it, each comparing the contexts). A group built
 * here runs its `build` with every service it asks for, but the platform's group is built in a context of
 * only what it reads per call: the middlewares of the group and its endpoints. The per-call merge is then a
 * few entries long (issue 18, bench/README.md).
 *
 * The compiler keeps it honest: a handler that asks for a service when called (`R` of its effect, other than
 * what the middlewares provide and the request's own services) does not type-check here. `Effect.serviceOption`
 * is not a requirement and gets past it: use it only for what the request itself provides (ARCHITECTURE.md).
 * Every group is built here (`test/unit/ClosedGroups.test.ts`).
 */
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import type * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import type * as HttpRouter from "@effect/platform/HttpRouter"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Context, Effect, Layer, type Scope } from "effect"

/** What the platform puts in each request's context: a handler may read these when called. */
type RequestServices =
  HttpServerRequest.HttpServerRequest | HttpServerRequest.ParsedSearchParams | HttpRouter.RouteContext | Scope.Scope

/**
 * The middlewares the group's endpoints declare (their security: `Authentication`, `DeferredAuthentication` …):
 * a handler's requirements name them, and the group reads their implementations from the context it was built in.
 */
type EndpointMiddleware<
  Groups extends HttpApiGroup.HttpApiGroup.Any,
  Name extends string
> = HttpApiEndpoint.HttpApiEndpoint.Context<HttpApiGroup.HttpApiGroup.EndpointsWithName<Groups, Name>>

export const closedGroup = <
  ApiId extends string,
  Groups extends HttpApiGroup.HttpApiGroup.Any,
  ApiError,
  ApiR,
  const Name extends HttpApiGroup.HttpApiGroup.Name<Groups>,
  E,
  Provides,
  RH extends RequestServices | EndpointMiddleware<Groups, Name>,
  EX,
  RX
>(
  api: HttpApi.HttpApi<ApiId, Groups, ApiError, ApiR>,
  groupName: Name,
  build: (
    handlers: HttpApiBuilder.Handlers.FromGroup<ApiError, ApiR, HttpApiGroup.HttpApiGroup.WithName<Groups, Name>>
  ) => Effect.Effect<HttpApiBuilder.Handlers<E, Provides, RH, never>, EX, RX>
): Layer.Layer<
  HttpApiGroup.ApiGroup<ApiId, Name>,
  EX,
  Exclude<
    RX | HttpApiGroup.HttpApiGroup.MiddlewareWithName<Groups, Name> | EndpointMiddleware<Groups, Name>,
    Scope.Scope
  >
> =>
  // the group's type is a phantom (`ApiGroup`): the layer adds routes to the router, as the platform's does
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const all =
        yield* Effect.context<
          Exclude<
            RX | HttpApiGroup.HttpApiGroup.MiddlewareWithName<Groups, Name> | EndpointMiddleware<Groups, Name>,
            Scope.Scope
          >
        >()
      const group = (api as unknown as HttpApi.HttpApi.AnyWithProps).groups[groupName]!
      // what the platform's group reads from its context: the middlewares' implementations
      let context = Context.empty() as Context.Context<unknown>
      for (const tag of group.middlewares) context = Context.add(context, tag, Context.unsafeGet(all, tag))
      for (const endpoint of Object.values(group.endpoints)) {
        for (const tag of endpoint.middlewares) context = Context.add(context, tag, Context.unsafeGet(all, tag))
      }
      const layer = HttpApiBuilder.group(api, groupName, (handlers) =>
        Effect.provide(build(handlers as never), all as Context.Context<RX>)
      ) as unknown as Layer.Layer<never>
      // the memo map of the build this layer is part of: the router (`HttpApiBuilder.Router.Live`) is the one
      // every other group adds its routes to
      const memoMap = yield* Layer.CurrentMemoMap
      const scope = yield* Effect.scope
      yield* Effect.mapInputContext(
        Layer.buildWithMemoMap(layer, memoMap, scope),
        (_: Context.Context<never>) => context as Context.Context<never>
      )
    })
  ) as unknown as Layer.Layer<
    HttpApiGroup.ApiGroup<ApiId, Name>,
    EX,
    Exclude<
      RX | HttpApiGroup.HttpApiGroup.MiddlewareWithName<Groups, Name> | EndpointMiddleware<Groups, Name>,
      Scope.Scope
    >
  >

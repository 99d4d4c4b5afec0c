/**
 * The API's routes as data, for what the router itself does not tell: which endpoint a request is for
 * before the router runs (the rate limit's per-route keys, the access log, the ETag step), which endpoint a
 * failed request was meant for (to re-validate every part and report all problems), and which methods a
 * path allows (405).
 *
 * Matching is the router's own: the same library (`find-my-way-ts`, which `HttpRouter` uses) with the same
 * configuration (`ROUTER_CONFIG`, installed on the real router by `HttpLive.ts`), so a request this table
 * places on a route is exactly one that reaches that route's handler — percent-encoding and absolute-form
 * targets included (`;` and `#`: `endsEarlyForTheRouter`). docs/decisions.md D12: paths match exactly, as Starlette's do — letter
 * case matters and a doubled slash is not collapsed (the library's defaults do both, which let
 * `/AUTH/LOGIN` reach the login handler while the rate limit, matching differently, missed it).
 */
import type * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import type * as HttpMethod from "@effect/platform/HttpMethod"
import * as HttpApi from "@effect/platform/HttpApi"
import { ShumApi } from "@shum/domain/Api"
import { Option, SchemaAST } from "effect"
import * as FindMyWay from "find-my-way-ts"

/** The router's configuration (docs/decisions.md D12): exact letter case, no collapsing of doubled slashes. */
export const ROUTER_CONFIG: Partial<FindMyWay.RouterConfig> = {
  caseSensitive: true,
  ignoreDuplicateSlashes: false
}

/**
 * The table matches as the router does, but for a trailing slash: the router would ignore it, yet an API
 * path with one never reaches its handler — the error mapping answers it first with a 307 to the path
 * without it (docs/api.md §1.4) — so here it matches nothing.
 */
const TABLE_CONFIG: Partial<FindMyWay.RouterConfig> = { ...ROUTER_CONFIG, ignoreTrailingSlash: false }

export interface Route {
  readonly method: HttpMethod.HttpMethod
  readonly template: string
  readonly endpoint: HttpApiEndpoint.HttpApiEndpoint.AnyWithProps
  readonly groupName: string
  /** The query parameters the endpoint declares (its url params schema's fields); any other is unknown. */
  readonly queryParams: ReadonlySet<string>
}

const routes: ReadonlyArray<Route> = (() => {
  const out: Array<Route> = []
  HttpApi.reflect(ShumApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, group }) => {
      out.push({
        method: endpoint.method,
        template: endpoint.path,
        endpoint: endpoint as unknown as HttpApiEndpoint.HttpApiEndpoint.AnyWithProps,
        groupName: group.identifier,
        queryParams: new Set(
          Option.match(endpoint.urlParamsSchema, {
            onNone: () => [],
            onSome: (schema) => SchemaAST.getPropertySignatures(schema.ast).map((field) => String(field.name))
          })
        )
      })
    }
  })
  return out
})()

const router = (() => {
  const out = FindMyWay.make<Route>(TABLE_CONFIG)
  for (const route of routes) out.on(route.method, route.template as FindMyWay.PathInput, route)
  return out
})()

const METHODS = [...new Set(routes.map((route) => route.method))]

export interface RouteMatch {
  readonly route: Route
  readonly params: Readonly<Record<string, string | undefined>>
}

/**
 * Whether the path (before any query) holds a `;` or `#`. find-my-way ends the path there (`/auth/login;x`
 * is `/auth/login` to it); Starlette matches the whole path, so such a path reaches no route: the error
 * mapping answers it 404 before the router sees it, and this table matches nothing for it.
 */
export const endsEarlyForTheRouter = (path: string): boolean => {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i)
    if (c === 63) return false // ?
    if (c === 59 || c === 35) return true // ; #
  }
  return false
}

/** The route `path` (a request target: a path, maybe with a query) reaches, with its decoded parameters. */
export const findRoute = (method: string, path: string): RouteMatch | undefined => {
  if (endsEarlyForTheRouter(path)) return undefined
  const found = router.find(method, path)
  return found === undefined ? undefined : { route: found.handler, params: found.params }
}

/** The methods some endpoint serves at this path (for `Allow` on a 405). */
export const allowedMethods = (path: string): ReadonlyArray<string> =>
  endsEarlyForTheRouter(path) ? [] : METHODS.filter((method) => router.find(method, path) !== undefined)

export const allRoutes = routes

/**
 * The API's routes as data, for what the router itself does not tell: which endpoint a failed request
 * was meant for (to re-validate every part and report all problems), and which methods a path allows (405).
 */
import type * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import type * as HttpMethod from "@effect/platform/HttpMethod"
import * as HttpApi from "@effect/platform/HttpApi"
import { ShumApi } from "@shum/domain/Api"

export interface Route {
  readonly method: HttpMethod.HttpMethod
  readonly template: string
  readonly endpoint: HttpApiEndpoint.HttpApiEndpoint.AnyWithProps
  readonly groupName: string
  readonly pattern: RegExp
  readonly paramNames: ReadonlyArray<string>
  readonly literalSegments: number
}

const compile = (template: string) => {
  const paramNames: Array<string> = []
  const source = template
    .split("/")
    .map((segment) => {
      if (segment.startsWith(":")) {
        paramNames.push(segment.slice(1))
        return "([^/]+)"
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
    })
    .join("/")
  return { pattern: new RegExp(`^${source}$`), paramNames }
}

const routes: ReadonlyArray<Route> = (() => {
  const out: Array<Route> = []
  HttpApi.reflect(ShumApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, group }) => {
      const { paramNames, pattern } = compile(endpoint.path)
      out.push({
        method: endpoint.method,
        template: endpoint.path,
        endpoint: endpoint as unknown as HttpApiEndpoint.HttpApiEndpoint.AnyWithProps,
        groupName: group.identifier,
        pattern,
        paramNames,
        literalSegments: endpoint.path.split("/").filter((s) => s !== "" && !s.startsWith(":")).length
      })
    }
  })
  // literal segments win over parameters (`/hotels/rooms/available` before `/hotels/:hotel_id`)
  return out.sort((a, b) => b.literalSegments - a.literalSegments)
})()

export interface RouteMatch {
  readonly route: Route
  readonly params: Readonly<Record<string, string>>
}

const matchOne = (route: Route, path: string): RouteMatch | undefined => {
  const found = route.pattern.exec(path)
  if (found === null) return undefined
  const params: Record<string, string> = {}
  route.paramNames.forEach((name, i) => {
    params[name] = decodeURIComponent(found[i + 1] ?? "")
  })
  return { route, params }
}

export const findRoute = (method: string, path: string): RouteMatch | undefined => {
  for (const route of routes) {
    if (route.method !== method) continue
    const found = matchOne(route, path)
    if (found) return found
  }
  return undefined
}

/** The methods some endpoint serves at this path (for `Allow` on a 405). */
export const allowedMethods = (path: string): ReadonlyArray<string> => [
  ...new Set(routes.filter((route) => route.pattern.test(path)).map((route) => route.method))
]

export const allRoutes = routes

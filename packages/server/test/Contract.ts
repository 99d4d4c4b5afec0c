/**
 * The contract check: every response the HTTP tests receive is compared with the OpenAPI document of
 * `ShumApi` — the operation (method + path template, found with the server's own route table), the status,
 * the media type and, for JSON, the body against the response's schema (Ajv, JSON Schema 2020-12 as
 * OpenAPI 3.1 uses it). A response the document does not describe is a violation, so the document cannot
 * drift from the behaviour.
 *
 * What the document legitimately does not cover is listed in `OUTSIDE_THE_DOCUMENT`, each with its reason
 * and still checked as far as it can be (the router's 404/405, a 429 anywhere: the domain's problem schemas).
 */
import { OpenApi } from "@effect/platform"
import { ShumApi } from "@shum/domain/Api"
import { Problems } from "@shum/domain/Errors"
import { JSONSchema, type Schema } from "effect"
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js"
import addFormats from "ajv-formats"
import { REDOC_BUNDLE_PATH, REDOC_LOGO_PATH, SWAGGER_ASSETS } from "../src/Http/Docs.js"
import { findRoute } from "../src/Http/RouteTable.js"

type Json = Record<string, unknown>

export const document = OpenApi.fromApi(ShumApi) as unknown as {
  readonly paths: Record<string, Record<string, { readonly responses: Record<string, Json> }>>
  readonly components: Json
}

const DOCUMENT_ID = "https://shum-booking.invalid/openapi.json"
const LOCAL_REF = "#/components/"

const ajv = new Ajv2020({ strict: false, allErrors: true })
addFormats.default(ajv)
ajv.addSchema({ $id: DOCUMENT_ID, components: document.components })

/** A schema taken out of the document, its `#/components/…` references pointed back into it. */
const detached = (schema: unknown): unknown => {
  if (Array.isArray(schema)) return schema.map(detached)
  if (typeof schema !== "object" || schema === null) return schema
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [
      key,
      key === "$ref" && typeof value === "string" && value.startsWith(LOCAL_REF)
        ? `${DOCUMENT_ID}${value}`
        : detached(value)
    ])
  )
}

const validators = new Map<unknown, ValidateFunction>()
const validatorOf = (schema: unknown): ValidateFunction => {
  let validate = validators.get(schema)
  if (validate === undefined) {
    validate = ajv.compile(detached(schema) as Json)
    validators.set(schema, validate)
  }
  return validate
}

/** A problem document's JSON Schema, from the domain (not every problem is some endpoint's documented error). */
const problemSchemas = new Map<string, Json>()
const problemSchema = (name: keyof typeof Problems): Json => {
  let schema = problemSchemas.get(name)
  if (schema === undefined) {
    const problem: Schema.Schema.AnyNoContext = Problems[name]
    const { $schema: _, ...rest } = JSONSchema.make(problem) as unknown as Json
    schema = rest
    problemSchemas.set(name, schema)
  }
  return schema
}

/** What the test client saw, but the body: that is read only when the check needs it. */
export interface ObservedResponse {
  readonly method: string
  readonly url: string
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
}

/** `Done`: decided without the body; `NeedsBody`: a check of the body's text, returning the violations. */
export type Verdict =
  | { readonly _tag: "Done"; readonly violations: ReadonlyArray<string> }
  | { readonly _tag: "NeedsBody"; readonly check: (body: string) => ReadonlyArray<string> }

const done = (...violations: ReadonlyArray<string>): Verdict => ({ _tag: "Done", violations })
const needsBody = (check: (body: string) => ReadonlyArray<string>): Verdict => ({ _tag: "NeedsBody", check })

const baseType = (contentType: string | undefined) => (contentType ?? "").split(";")[0]!.trim().toLowerCase()
const isJson = (type: string) => type === "application/json" || type.endsWith("+json")

const schemaViolations = (what: string, schema: unknown, body: string): ReadonlyArray<string> => {
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return [`${what}: the body is not JSON: ${body.slice(0, 200)}`]
  }
  const validate = validatorOf(schema)
  if (validate(value)) return []
  const problems = (validate.errors ?? [])
    .slice(0, 8)
    .map((e) => `${e.instancePath || "(body)"} ${e.message ?? ""} ${JSON.stringify(e.params)}`)
  return [`${what}: the body does not match the documented schema: ${problems.join("; ")}\n${body.slice(0, 500)}`]
}

/**
 * The response's documented headers: a `required` one must be there, and a string-typed one that is there
 * must match its schema (e.g. the `Location` of a create, docs/decisions.md D15).
 */
const headerViolations = (what: string, response: Json, observed: ObservedResponse): ReadonlyArray<string> =>
  Object.entries((response["headers"] ?? {}) as Record<string, Json>).flatMap(([name, header]) => {
    const value = observed.headers[name.toLowerCase()]
    if (value === undefined)
      return header["required"] === true ? [`${what}: the required header ${name} is missing`] : []
    const schema = header["schema"] as Json | undefined
    if (schema === undefined || schema["type"] !== "string") return []
    const validate = validatorOf(schema)
    return validate(value) ? [] : [`${what}: header ${name}: ${JSON.stringify(value)} does not match its schema`]
  })

/** A documented response: its headers, its media type, and a JSON body must match the schema. */
const documented = (what: string, response: Json, observed: ObservedResponse, head: boolean): Verdict => {
  const headers = headerViolations(what, response, observed)
  if (headers.length > 0) return done(...headers)
  const content = response["content"] as Record<string, Json> | undefined
  const type = baseType(observed.headers["content-type"])
  if (content === undefined) {
    return head ? done() : needsBody((body) => (body === "" ? [] : [`${what}: documented without a body, got one`]))
  }
  const entry = Object.entries(content).find(([documentedType]) => baseType(documentedType) === type)
  if (entry === undefined) {
    return done(`${what}: content type "${type}" is not among the documented ${Object.keys(content).join(", ")}`)
  }
  if (head || !isJson(type)) return done()
  return needsBody((body) => schemaViolations(what, entry[1]["schema"], body))
}

/** A problem document of one of the document's error schemas (the router's own answers). */
const problemOf = (what: string, name: keyof typeof Problems, observed: ObservedResponse): Verdict =>
  baseType(observed.headers["content-type"]) === "application/problem+json"
    ? needsBody((body) => schemaViolations(what, problemSchema(name), body))
    : done(`${what}: expected an application/problem+json ${name}`)

const route = (method: string, path: string) => {
  try {
    return findRoute(method, path)
  } catch {
    return undefined // a path that does not decode matches no operation
  }
}

interface Outside {
  readonly why: string
  readonly matches: (method: string, path: string, status: number) => boolean
  readonly verdict: (what: string, observed: ObservedResponse) => Verdict
}

const expectStatus = (what: string, observed: ObservedResponse, statuses: ReadonlyArray<number>, type?: string) => {
  if (!statuses.includes(observed.status)) return done(`${what}: unexpected status (expected ${statuses.join("/")})`)
  if (type !== undefined && observed.status === 200 && baseType(observed.headers["content-type"]) !== type) {
    return done(`${what}: expected ${type}, got ${observed.headers["content-type"]}`)
  }
  return done()
}

/** Routes and answers that are not operations of the API, each with the reason it is outside the document. */
export const OUTSIDE_THE_DOCUMENT: ReadonlyArray<Outside> = [
  {
    why: "the documentation itself (docs/api.md §6.6): Swagger UI, its OAuth2 redirect page and Redoc",
    matches: (method, path) => method === "GET" && ["/docs", "/docs/oauth2-redirect", "/redoc"].includes(path),
    verdict: (what, observed) => expectStatus(what, observed, [200], "text/html")
  },
  {
    why: "the documentation's pages asked for with a trailing slash: 307 to the page (relative, so any prefix stays)",
    matches: (method, path) => method === "GET" && (path === "/docs/" || path === "/redoc/"),
    verdict: (what, observed) =>
      /^\.\.\/(docs|redoc)(\?|$)/.test(observed.headers["location"] ?? "")
        ? expectStatus(what, observed, [307])
        : done(`${what}: expected a redirect to ../docs or ../redoc`)
  },
  {
    why: "Redoc's script, served from the `redoc` package for /redoc",
    matches: (method, path) => method === "GET" && path === REDOC_BUNDLE_PATH,
    verdict: (what, observed) => expectStatus(what, observed, [200], "text/javascript")
  },
  {
    why: "the logo Redoc's menu shows, served here instead of Redocly's CDN",
    matches: (method, path) => method === "GET" && path === REDOC_LOGO_PATH,
    verdict: (what, observed) => expectStatus(what, observed, [200], "image/svg+xml")
  },
  {
    why: "Swagger UI's files, served from the `swagger-ui-dist` package for /docs, and its start-up script",
    matches: (method, path) =>
      method === "GET" &&
      (path === "/docs/swagger-ui-init.js" || Object.keys(SWAGGER_ASSETS).some((name) => path === `/docs/${name}`)),
    verdict: (what, observed) => expectStatus(what, observed, [200])
  },
  {
    why: "the document itself (docs/api.md §6.6)",
    matches: (method, path) => method === "GET" && path === "/openapi.json",
    verdict: (what, observed) => expectStatus(what, observed, [200], "application/json")
  },
  {
    why: "the general rate limit (D4) counts every request but the docs and probes, unknown paths too: 429",
    matches: (_method, _path, status) => status === 429,
    verdict: (what, observed) => problemOf(what, "RateLimited", observed)
  },
  {
    why: "image files written by the worker (D5), static files rather than API answers",
    matches: (method, path) => (method === "GET" || method === "HEAD") && path.startsWith("/static/images/"),
    verdict: (what, observed) =>
      observed.status === 404 ? problemOf(what, "NotFound", observed) : expectStatus(what, observed, [200, 304])
  },
  {
    why: "a CORS preflight (`CORS_ORIGINS`), answered before routing: 204, or 405 when CORS is off",
    matches: (method) => method === "OPTIONS",
    verdict: (what, observed) =>
      observed.status === 405 ? problemOf(what, "MethodNotAllowed", observed) : expectStatus(what, observed, [204])
  },
  {
    why: "a trailing slash on a known path: 307 to the path without it (as FastAPI does)",
    matches: (method, path) => path.length > 1 && path.endsWith("/") && route(method, path.slice(0, -1)) !== undefined,
    verdict: (what, observed) =>
      observed.headers["location"] === undefined
        ? done(`${what}: a redirect without Location`)
        : expectStatus(what, observed, [307])
  },
  {
    why: "a known path with another method: 405 with `Allow` (a MethodNotAllowed problem)",
    matches: (method, path) =>
      ["GET", "POST", "PUT", "PATCH", "DELETE"].some((m) => m !== method && route(m, path) !== undefined),
    verdict: (what, observed) =>
      observed.status === 405 && observed.headers["allow"] !== undefined
        ? problemOf(what, "MethodNotAllowed", observed)
        : done(`${what}: expected 405 with Allow`)
  },
  {
    why: "a path the API does not have: 404 (a NotFound problem)",
    matches: () => true,
    verdict: (what, observed) =>
      observed.status === 404 ? problemOf(what, "NotFound", observed) : done(`${what}: expected 404`)
  }
]

/** The path as the router sees it: without the query and without the `ROOT_PATH` prefix. */
export const routedPath = (url: string, rootPath: string): string => {
  const path = new URL(url, "http://test.invalid").pathname
  if (rootPath === "") return path
  if (path === rootPath) return "/"
  return path.startsWith(`${rootPath}/`) ? path.slice(rootPath.length) : path
}

export const verdictFor = (observed: ObservedResponse, rootPath = ""): Verdict => {
  const head = observed.method === "HEAD"
  const method = head ? "GET" : observed.method
  const path = routedPath(observed.url, rootPath)
  const what = `${observed.method} ${path} → ${observed.status}`
  const match = route(method, path)
  if (match === undefined) {
    const outside = OUTSIDE_THE_DOCUMENT.find((o) => o.matches(method, path, observed.status))!
    return outside.verdict(`${what} (outside the document: ${outside.why})`, observed)
  }
  const template = match.route.template.replace(/:(\w+)/g, "{$1}")
  const operation = document.paths[template]?.[method.toLowerCase()]
  if (operation === undefined) return done(`${what}: the route ${method} ${template} is missing from the document`)
  const responses = operation.responses
  const status = String(observed.status)
  const response = responses[status] ?? responses[`${status[0]}XX`] ?? responses["default"]
  if (response === undefined) {
    return done(`${what}: ${method} ${template} documents only ${Object.keys(responses).join(", ")}`)
  }
  return documented(`${what} (${method} ${template})`, response, observed, head)
}

/** For clients that hold the whole body already (the generated client's middleware). */
export const violationsOf = (observed: ObservedResponse, body: string, rootPath = ""): ReadonlyArray<string> => {
  const verdict = verdictFor(observed, rootPath)
  return verdict._tag === "Done" ? verdict.violations : verdict.check(body)
}

export class ContractViolation extends Error {
  constructor(readonly violations: ReadonlyArray<string>) {
    super(`The response does not match the OpenAPI document:\n- ${violations.join("\n- ")}`)
    this.name = "ContractViolation"
  }
}

/**
 * The one place where failures become HTTP answers the contract promises (docs/api.md §1.4, D9):
 * - decode failures → 422 with every problem of the request, FastAPI style; a body nested too deeply → 422
 *   (`JsonBody.ts`); every 422 — the services' own too — echoes little of the input and no password
 *   (`boundIssues`, docs/decisions.md D11);
 * - unknown path → 404 `Not Found`, known path with another method → 405 + `Allow`,
 *   a trailing slash on a known path → 307 to the path without it;
 * - database failures (defects carrying a `SqlError`, classified by `@shum/infra/SqlFailures`, the one reader
 *   of SQLSTATEs) that no repository turned into a typed error → 409 E-90 / 503 E-91 (unreachable, or a
 *   deadlock no retry absorbed) / 500 E-92 (a room's
 *   quantity lowered below what is sold is `RoomsRepo`'s `QuantityBelowTaken`, answered by `RoomsService`);
 * - anything else unexpected → 500 E-93, logged with its cause;
 * - a session that `DeferredAuthentication` left to the endpoint's write and no write checked is checked before
 *   anything is answered, its refusal the answer (`Auth/DeferredSession.ts`, docs/decisions.md D13);
 * - `Unauthorized` gets `WWW-Authenticate: Bearer`; every 503 (`ServiceUnavailable`, a database outage,
 *   `/ready`'s `NotReady`) gets `Retry-After` (docs/operations.md).
 * Everything it answers is an `application/problem+json` document built from the domain's schemas.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Multipart from "@effect/platform/Multipart"
import type * as HttpApp from "@effect/platform/HttpApp"
import { SqlError } from "@effect/sql/SqlError"
import * as Errors from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { NotReady, NotReadyResponse } from "@shum/domain/SystemApi"
import { AppConfig } from "@shum/infra/Config"
import { classifySqlError } from "@shum/infra/SqlFailures"
import { Cause, Context, Effect, Layer, Option, Predicate, Schema } from "effect"
import { checkedBeforeAnswer } from "../Auth/DeferredSession.js"
import { noteUnhandledError } from "./AccessLog.js"
import { allowedMethods, endsEarlyForTheRouter, findRoute, type RouteMatch } from "./RouteTable.js"
import { JsonTooDeep, parseJson } from "./JsonBody.js"
import { boundIssues, jsonInvalid, jsonTooDeep, secretsOf, toValidationIssues, type Location } from "./Validation.js"

/** Seconds a client is told to wait after a 503: a dependency that went away is retried every ≤ 2 s. */
export const RETRY_AFTER_SECONDS = 5
const retryAfter = { "retry-after": String(RETRY_AFTER_SECONDS) }

/** An error of the API as its problem document (`Errors.ts`), with the status the document carries. */
export const problemResponse = (
  error: Errors.ApiError,
  headers?: Record<string, string>
): HttpServerResponse.HttpServerResponse => {
  const problem = Errors.Problems[error._tag] as unknown as Schema.Schema<Errors.ApiError, { status: number }>
  const body = Schema.encodeSync(problem)(error)
  return HttpServerResponse.unsafeJson(body, {
    status: body.status,
    contentType: Errors.ProblemContentType,
    ...(headers ? { headers } : {})
  })
}

/** A 422 (docs/decisions.md D11: bounded inputs, no password — `secrets` are the request's, `secretsOfBody`). */
export const validationResponse = (
  issues: ReadonlyArray<Errors.ValidationIssue>,
  secrets: ReadonlyArray<string> = []
) => problemResponse(new Errors.ValidationError({ detail: boundIssues(issues, secrets) }))

const pathOf = (url: string) => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}
const searchOf = (url: string) => {
  const q = url.indexOf("?")
  return q === -1 ? "" : url.slice(q)
}

const hasJsonBody = (request: HttpServerRequest.HttpServerRequest) => {
  const type = request.headers["content-type"] ?? "application/json"
  return type.includes("application/json") && request.method !== "GET" && request.method !== "DELETE"
}

/** The passwords in the request's JSON body, to keep out of its 422 (an unreadable body has none to find). */
const secretsOfBody = (request: HttpServerRequest.HttpServerRequest) =>
  hasJsonBody(request)
    ? Effect.map(request.text.pipe(Effect.option), (text) => {
        if (text._tag === "None" || text.value === "") return []
        try {
          return secretsOf(parseJson(text.value))
        } catch {
          return []
        }
      })
    : Effect.succeed([])

/** `JSON.parse`'s or the nesting check's complaint about a body, as its 422 issue. */
const unparsable = (error: unknown, text: string) =>
  error instanceof JsonTooDeep ? jsonTooDeep(error) : jsonInvalid(error, text)

/** Re-decode each part of the request against its endpoint, collecting every problem (FastAPI reports all). */
const revalidate = (request: HttpServerRequest.HttpServerRequest, match: RouteMatch) =>
  Effect.gen(function* () {
    const { endpoint } = match.route
    const issues: Array<Errors.ValidationIssue> = []
    const check = (location: Location, schema: Option.Option<Schema.Schema.Any>, input: unknown) =>
      Option.match(schema, {
        onNone: () => Effect.void,
        onSome: (s) =>
          Schema.decodeUnknown(s as Schema.Schema<unknown, unknown>, { errors: "all" })(input).pipe(
            Effect.catchAll((error) => Effect.sync(() => issues.push(...toValidationIssues(location, error.issue)))),
            Effect.asVoid
          )
      })
    // as HttpApi reads them: a repeated parameter is a list (so `?page=1&page=2` is reported at the query)
    const query: Record<string, string | Array<string>> = {}
    for (const [key, value] of new URLSearchParams(searchOf(request.url))) {
      const seen = query[key]
      query[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value]
    }
    yield* check("path", endpoint.pathSchema, match.params)
    yield* check("query", endpoint.urlParamsSchema, query)
    yield* check("header", endpoint.headersSchema, request.headers)
    if (hasJsonBody(request)) {
      const body = yield* request.json.pipe(Effect.orElseSucceed(() => undefined))
      yield* check("body", endpoint.payloadSchema, body)
    }
    return issues
  })

const fallbackIssues = (error: {
  readonly issues: ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string }>
}) =>
  error.issues.map((i) => ({
    type: "value_error",
    loc: ["body", ...i.path.map((p) => (typeof p === "number" ? p : String(p)))],
    msg: i.message
  }))

const onDecodeError = (
  request: HttpServerRequest.HttpServerRequest,
  error: { readonly issues: ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string }> }
) =>
  Effect.gen(function* () {
    const match = findRoute(request.method, pathOf(request.url))
    const issues = match ? yield* revalidate(request, match) : []
    // an id outside `integer`'s range (`PathId`) names nothing: the path leads nowhere, as an unknown one
    if (issues.some(isPathIdOutOfRange)) {
      return problemResponse(new Errors.NotFound({ detail: Messages.notFoundRoute }))
    }
    return validationResponse(issues.length > 0 ? issues : fallbackIssues(error), yield* secretsOfBody(request))
  })

const isPathIdOutOfRange = (issue: Errors.ValidationIssue) =>
  issue.loc[0] === "path" && (issue.type === "less_than_equal" || issue.type === "greater_than_equal")

/** docs/api.md §1.4: `/hotels/` → 307 to `/hotels` (keeping the `ROOT_PATH` prefix and the query). */
const trailingSlashRedirect = (request: HttpServerRequest.HttpServerRequest) => {
  const path = pathOf(request.url)
  if (path.length <= 1 || !path.endsWith("/")) return Option.none()
  const trimmed = path.replace(/\/+$/, "")
  if (allowedMethods(trimmed).length === 0) return Option.none()
  const prefix = request.originalUrl.slice(0, request.originalUrl.length - request.url.length)
  return Option.some(
    HttpServerResponse.empty({ status: 307, headers: { location: `${prefix}${trimmed}${searchOf(request.url)}` } })
  )
}

const onRouteNotFound = (request: HttpServerRequest.HttpServerRequest) => {
  const path = pathOf(request.url)
  const allowed = allowedMethods(path)
  if (allowed.length > 0) {
    return problemResponse(new Errors.MethodNotAllowed({ detail: Messages.methodNotAllowed }), {
      allow: allowed.join(", ")
    })
  }
  return problemResponse(new Errors.NotFound({ detail: Messages.notFoundRoute }))
}

/** A database failure no repository expected, as `@shum/infra/SqlFailures` classifies it. */
const sqlErrorResponse = (error: SqlError): HttpServerResponse.HttpServerResponse => {
  switch (classifySqlError(error)) {
    // the inventory's CHECK where no repository expected it (bookings, holds and rooms turn it into their
    // own typed errors): a constraint like any other
    case "InventoryExceeded":
    case "IntegrityViolation":
      return problemResponse(new Errors.IntegrityViolation({ detail: Messages.integrityViolation }))
    // a deadlock or serialization failure that no retry absorbed: nothing happened, and running it again may
    // well succeed (docs/errors.md E-91)
    case "Aborted":
    case "Unavailable":
      return problemResponse(new Errors.ServiceUnavailable({ detail: Messages.databaseUnavailable }), retryAfter)
    default:
      return problemResponse(new Errors.InternalError({ detail: Messages.databaseError }))
  }
}

const isMultipartLimit = (defect: unknown) =>
  defect instanceof Multipart.MultipartError &&
  (defect.reason === "FileTooLarge" ||
    defect.reason === "BodyTooLarge" ||
    defect.reason === "FieldTooLarge" ||
    Predicate.isTagged(defect.cause, "ReachedLimit"))

/**
 * A `multipart/form-data` body that cannot be parsed (e.g. a NUL in a part's header): a 400 as Starlette
 * answers it, never a 500 (docs/decisions.md D11).
 */
const isMultipartMalformed = (defect: unknown) =>
  defect instanceof Multipart.MultipartError && defect.reason === "Parse" && !isMultipartLimit(defect)

/**
 * An uploaded file whose name holds a NUL (sent as `filename*=UTF-8''…%00…`): the platform stores each file
 * part under its name before any schema sees it, and Node refuses such a path. It is text PostgreSQL could
 * not store either: a 422 at the file part (`file`, the API's only one), as for any text field (D11).
 */
const isNulInFileName = (defect: unknown) =>
  defect instanceof Multipart.MultipartError &&
  defect.reason === "InternalError" &&
  (defect.cause as { code?: unknown } | undefined)?.code === "ERR_INVALID_ARG_VALUE" &&
  String((defect.cause as { message?: unknown }).message).includes("null bytes")

/** The request-decoding defect `HttpApiBuilder` raises for a body that is not JSON. */
const isBodyDecodeFailure = (defect: unknown): defect is { readonly reason: "Decode"; readonly cause?: unknown } =>
  Predicate.isTagged(defect, "RequestError") && (defect as { reason?: unknown }).reason === "Decode"

interface Options {
  /** `MAX_IMAGE_FILE_SIZE_MB`, quoted in the 413 message (E-61). */
  readonly maxUploadMb: number
}

const onDefect = (
  options: Options,
  request: HttpServerRequest.HttpServerRequest,
  defect: unknown,
  cause: Cause.Cause<unknown>
) =>
  Effect.gen(function* () {
    if (isBodyDecodeFailure(defect)) {
      const text = yield* request.text.pipe(Effect.orElseSucceed(() => ""))
      return text.trim() === ""
        ? validationResponse([{ type: "missing", loc: ["body"], msg: "Field required", input: null }])
        : validationResponse([unparsable(defect.cause, text)])
    }
    if (isMultipartLimit(defect)) {
      return problemResponse(new Errors.PayloadTooLarge({ detail: Messages.fileTooLarge(options.maxUploadMb) }))
    }
    if (isNulInFileName(defect)) {
      return validationResponse([
        {
          type: "value_error",
          loc: ["body", "file"],
          msg: "Value error, the file name contains a NUL character (U+0000), which is not accepted"
        }
      ])
    }
    if (isMultipartMalformed(defect)) {
      return problemResponse(new Errors.BadRequest({ detail: Messages.bodyParseError }))
    }
    if (defect instanceof SqlError) {
      const response = sqlErrorResponse(defect)
      if (response.status >= 500) {
        yield* noteUnhandledError(defect)
        yield* Effect.logError("database failure", cause)
      }
      return response
    }
    yield* noteUnhandledError(defect)
    yield* Effect.logError("unhandled error", cause)
    return problemResponse(new Errors.InternalError({ detail: Messages.internalError }))
  })

/**
 * The failures of a request as the contract's answers (above). Per request only the checks that may answer at
 * once run before the app; the failure handling is built once, around the app, and finds the request in the
 * context when something failed (a generator per request cost a few µs on every answer, issue 18).
 */
export const mapErrors =
  (options: Options) =>
  (app: HttpApp.Default): HttpApp.Default => {
    const answered: HttpApp.Default = Effect.catchAllCause(
      // a session left to the endpoint's write (D13) and not checked by it is checked before any answer
      // (its `Unauthorized` is answered below, as the middleware's is: the type only widens for the mapping)
      checkedBeforeAnswer(app) as typeof app,
      (cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => onFailure(options, request, cause))
    )
    return Effect.withFiberRuntime((fiber) => {
      const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
      const path = pathOf(request.url)
      // D12: the whole path is matched, as Starlette does; the router would stop at a `;` or `#`
      if (endsEarlyForTheRouter(path)) return Effect.succeed(onRouteNotFound(request))
      const redirect = trailingSlashRedirect(request)
      if (Option.isSome(redirect)) return Effect.succeed(redirect.value)
      // docs/api.md §1.4: malformed JSON is a 422 before authentication looks at the request.
      // A body nested too deeply (D11) is refused before anything walks it.
      if (hasJsonBody(request) && findRoute(request.method, path)) {
        return Effect.flatMap(request.text.pipe(Effect.orElseSucceed(() => "")), (text): HttpApp.Default => {
          if (text.trim() !== "") {
            try {
              parseJson(text)
            } catch (error) {
              return Effect.succeed(validationResponse([unparsable(error, text)]))
            }
          }
          return answered
        })
      }
      return answered
    })
  }

/** What a failed request answers (never an interruption: that stays one). */
const onFailure = <E>(
  options: Options,
  request: HttpServerRequest.HttpServerRequest,
  cause: Cause.Cause<E>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E> => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error: unknown = failure.value
    if (Predicate.isTagged(error, "HttpApiDecodeError")) return onDecodeError(request, error as never)
    if (Predicate.isTagged(error, "RouteNotFound")) return Effect.succeed(onRouteNotFound(request))
    // a service's own 422 is bounded like the decoder's (D11)
    if (error instanceof Errors.ValidationError) {
      return Effect.map(secretsOfBody(request), (secrets) => validationResponse(error.detail, secrets))
    }
    if (error instanceof Errors.Unauthorized) {
      return Effect.succeed(problemResponse(error, { "www-authenticate": "Bearer" }))
    }
    if (error instanceof Errors.ServiceUnavailable) {
      return Effect.succeed(problemResponse(error, retryAfter))
    }
    if (error instanceof NotReady) {
      return Schema.encode(NotReadyResponse)(error).pipe(
        Effect.map((body) => HttpServerResponse.unsafeJson(body, { status: 503, headers: retryAfter })),
        Effect.orDie
      )
    }
    // declared errors are encoded by HttpApiBuilder with their own schema
    return Effect.failCause(cause)
  }
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) return onDefect(options, request, defect.value, cause)
  return Effect.failCause(cause)
}

export const ErrorMappingLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => HttpApiBuilder.middleware(mapErrors({ maxUploadMb: config.images.maxFileSizeMb })))
)

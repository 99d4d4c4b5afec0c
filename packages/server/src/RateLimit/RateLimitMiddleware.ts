/**
 * The rate-limit middleware (D4, docs/api.md §5.1):
 * - every API request counts against `RATE_LIMIT_PER_MINUTE` per client (as the edge proxy does);
 * - `POST /auth/register|login|refresh` also count against `RATE_LIMIT_AUTH_PER_MINUTE` per client and
 *   route — only when the body passes validation (a 422 does not consume the auth quota, docs/api.md §5.1). The route
 *   is the one the router will run (`RouteTable.ts`, the router's own matching), never the raw path, so no
 *   spelling of a path that reaches a handler escapes its key (docs/decisions.md D12);
 * - the system endpoints (`/health*`, `/live`, `/ready`, `/metrics`, docs) are never limited;
 * - a refused request is a 429 problem with `error` and `detail`, `Retry-After` and the `RateLimit-*`
 *   headers; allowed responses carry the `RateLimit-*` headers of the most restrictive limit too;
 * - if the limiter's store (Redis) does not answer, requests pass; a warning is logged at most every
 *   30 s and `rate_limit_backend_errors_total` counts every such request.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Errors from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { AppConfig } from "@shum/infra/Config"
import { Array as Arr, Effect, Option, Schema } from "effect"
import { routeOf } from "../Http/AccessLog.js"
import { clientAddressOf } from "../Http/ClientAddress.js"
import { problemResponse } from "../Http/ErrorMapping.js"
import { parseJson } from "../Http/JsonBody.js"
import { setLaterHeaders } from "../Http/RequestContext.js"
import type { RouteMatch } from "../Http/RouteTable.js"
import { Metrics } from "../Metrics.js"
import { type Decision, type Policy, RateLimiter, type RateLimiterUnavailable } from "./RateLimiter.js"

const WINDOW = "1 minute"
const AUTH_ROUTES: ReadonlySet<string> = new Set(["/auth/register", "/auth/login", "/auth/refresh"])
const WARNING_INTERVAL_MS = 30_000

/** D4: never limited. */
const isSystemPath = (path: string) =>
  path === "/health" ||
  path.startsWith("/health/") ||
  path === "/live" ||
  path === "/ready" ||
  path === "/metrics" ||
  path === "/docs" ||
  path.startsWith("/docs/") ||
  path === "/redoc" ||
  path === "/openapi.json"

const pathOf = (url: string) => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000))

const rateLimitHeaders = (decision: Decision): Record<string, string> => ({
  "ratelimit-limit": String(decision.binding.limit),
  "ratelimit-remaining": String(decision.binding.remaining),
  "ratelimit-reset": String(seconds(decision.binding.resetMs))
})

/** Whether the auth request's body would pass the endpoint's validation (else it is a 422, not counted). */
const passesValidation = (request: HttpServerRequest.HttpServerRequest, match: RouteMatch) =>
  Effect.gen(function* () {
    const payload = Option.map(
      match.route.endpoint.payloadSchema,
      (schema) => schema as Schema.Schema<unknown, unknown>
    )
    if (Option.isNone(payload)) return true
    const text = yield* request.text.pipe(Effect.orElseSucceed(() => ""))
    const body = yield* Effect.try(() => parseJson(text)).pipe(Effect.option)
    if (Option.isNone(body)) return false
    return yield* Schema.decodeUnknown(payload.value)(body.value).pipe(
      Effect.as(true),
      Effect.orElseSucceed(() => false)
    )
  })

const makeRateLimit = Effect.gen(function* () {
  const { rateLimit } = yield* AppConfig
  const limiter = yield* RateLimiter
  const metrics = yield* Metrics
  if (!rateLimit.enabled) return HttpMiddleware.make((app) => app)

  let lastWarning = 0
  const failOpen = (error: RateLimiterUnavailable) =>
    Effect.suspend(() => {
      metrics.rateLimit.backendError()
      const now = Date.now()
      if (now - lastWarning < WARNING_INTERVAL_MS) return Effect.void
      lastWarning = now
      return Effect.logWarning("rate limiter unavailable: requests pass unchecked until it answers again", error)
    })

  return HttpMiddleware.make((app) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const path = pathOf(request.url)
      if (isSystemPath(path)) return yield* app
      const { endpoint, match, system } = routeOf(request.method, path)
      if (system) return yield* app
      const client = clientAddressOf(request)
      const policies: Arr.NonEmptyArray<Policy> = [{ key: `{${client}}:api`, limit: rateLimit.perMinute }]
      if (
        request.method === "POST" &&
        match !== undefined &&
        AUTH_ROUTES.has(match.route.template) &&
        (yield* passesValidation(request, match))
      ) {
        policies.push({ key: `{${client}}:auth:${match.route.template}`, limit: rateLimit.authPerMinute })
      }
      const decision = yield* limiter.consume(policies, WINDOW).pipe(
        Effect.map(Option.some),
        Effect.catchAll((error) => Effect.as(failOpen(error), Option.none<Decision>()))
      )
      if (Option.isNone(decision)) return yield* app
      metrics.rateLimit.checked(endpoint)
      const headers = rateLimitHeaders(decision.value)
      if (!decision.value.allowed) {
        metrics.rateLimit.exceeded(endpoint)
        const detail = Messages.rateLimitExceeded(decision.value.binding.limit)
        return problemResponse(new Errors.RateLimited({ detail }), {
          ...headers,
          "retry-after": String(Math.max(1, seconds(decision.value.retryAfterMs)))
        })
      }
      // on the answer after the pipeline's headers, as an appended pre-response handler would set them
      yield* setLaterHeaders(headers)
      return yield* app
    })
  )
})

/** Runs inside the API (an `HttpApiBuilder.middleware`), so a 429 gets `X-Request-Id` like any answer. */
export const RateLimitLive = HttpApiBuilder.middleware(makeRateLimit)

/**
 * Per-request plumbing: the `ROOT_PATH` prefix (a middleware wrapping the whole app) and the request id.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, FiberRef } from "effect"
import { currentRequestLog, type RequestLogFacts } from "@shum/infra/Logging"
import { randomUUID } from "node:crypto"

/**
 * docs/api.md §1.1: the proxy normally strips `ROOT_PATH`, but a request that still carries it is routed as
 * if it did not — `/hotels` and `/apps/shum-booking/hotels` reach the same handler.
 */
export const stripRootPath = (root: string) =>
  HttpMiddleware.make((app) =>
    root === ""
      ? app
      : Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          const url = request.url
          if (url !== root && !url.startsWith(`${root}/`) && !url.startsWith(`${root}?`)) return app
          const rest = url.slice(root.length)
          const inner = request.modify({ url: rest === "" || rest.startsWith("?") ? `/${rest}` : rest })
          return Effect.provideService(app, HttpServerRequest.HttpServerRequest, inner)
        })
  )

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** D8: the request's id — the client's `X-Request-Id` when sane, else a new UUID. */
export const requestIdOf = (request: HttpServerRequest.HttpServerRequest): string => {
  const incoming = request.headers["x-request-id"]
  return incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : randomUUID()
}

/** Facts learnt deep inside a request that its log line and metrics report (`AccessLog.ts`). */
export interface RequestNotes {
  userId: string | number | undefined
  errorType: string | undefined
}

/**
 * What the request pipeline (`RequestPipeline.ts`) tells the rest of a request: its id (D8; the audit log's
 * `request_id`, docs/decisions.md D17) and the notes its access line reads. One fiber-local, set once for the
 * rest of the request's fiber: each fiber-local update copies the fiber's map of them (issue 18,
 * bench/README.md), so the request's facts travel together.
 */
export interface RequestState extends RequestLogFacts {
  readonly id: string
  readonly notes: RequestNotes
  /**
   * Where `Auth/DeferredSession.ts` keeps the session a `DeferredAuthentication` middleware left to be checked
   * before the answer: set by its `checkedBeforeAnswer` around the app, here rather than in a fiber-local of its
   * own (one fiber-local update less per request, issue 18).
   */
  sessionHolder: object | undefined
  /**
   * Headers for the request's answer after the pipeline's own, in the order they were set (`setLaterHeaders`:
   * the rate limit's, `Location`); the pipeline's pre-response handler sets them last.
   */
  laterHeaders: Record<string, string> | undefined
}

/**
 * The logger's fiber-local of the request's facts (`infra/Logging.ts` `currentRequestLog`: the loggers write its
 * `request_id` and `trace_id` on every line of the request), holding the whole state: one fiber-local update per
 * request for both. Only the request pipeline sets it, always to a `RequestState`.
 */
export const currentRequest = currentRequestLog as unknown as FiberRef.FiberRef<RequestState | undefined>

/** The request's id for what the request writes (docs/decisions.md D17); `undefined` outside a request. */
export const currentRequestId: Effect.Effect<string | undefined> = Effect.map(
  FiberRef.get(currentRequest),
  (state) => state?.id
)

/**
 * Sets `headers` on this request's answer after every header the pipeline sets, as a pre-response handler
 * appended now would (`HttpApp.appendPreResponseHandler`: the rate limit's headers, then `Location`, in the order
 * set) — but kept in the request's state, which the pipeline's handler (installed once, `RequestPipeline.ts`)
 * sets on the final response in its own step: no fiber-local update, no handler made and run per request (issue
 * 18, bench/README.md "Issue 18 and 19, fourth pass"). A request run without the pipeline gets the appended
 * handler.
 */
export const setLaterHeaders = (headers: Readonly<Record<string, string>>): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    const state = fiber.getFiberRef(currentRequest)
    if (state === undefined) {
      return HttpApp.appendPreResponseHandler((_request, response) =>
        Effect.succeed(HttpServerResponse.setHeaders(response, headers))
      )
    }
    state.laterHeaders = Object.assign(state.laterHeaders ?? {}, headers)
    return Effect.void
  })

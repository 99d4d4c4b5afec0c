/**
 * Per-request plumbing that wraps the whole app: the `ROOT_PATH` prefix, `X-Request-Id`, the access log.
 */
import { HttpApp, HttpMiddleware, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"

/**
 * API.md §1.1: the proxy normally strips `ROOT_PATH`, but a request that still carries it is routed as
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

/** D8: every response carries `X-Request-Id` (the client's when sane, else a new UUID), also in logs. */
export const requestId = HttpMiddleware.make((app) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const incoming = request.headers["x-request-id"]
    const id = incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : randomUUID()
    yield* HttpApp.appendPreResponseHandler((_request, response) =>
      Effect.succeed(HttpServerResponse.setHeader(response, "x-request-id", id))
    )
    yield* Effect.annotateCurrentSpan("http.request_id", id)
    return yield* Effect.annotateLogs(app, "request_id", id)
  })
)

/**
 * docs/decisions.md D14: every response of the app — answers, problems, 404s, redirects, the docs, the
 * image files, `/metrics`, a CORS preflight — carries `X-Content-Type-Options: nosniff` (a browser never
 * guesses a type other than the one declared) and `Referrer-Policy: no-referrer` (no URL of this API leaks
 * to another site). Set twice over: by the request pipeline's pre-response handler (`RequestPipeline.ts`), with
 * its own headers in one copy, on the answers the app writes (the error mapping's included); and by this
 * middleware, installed outermost (`HttpLive.ts`), on an answer the middlewares return themselves (a CORS
 * preflight, a 413), which the platform writes without those handlers — an answer that has them already
 * (the app's, written by then) is not copied again.
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer"
}

const withSecurityHeaders = (response: HttpServerResponse.HttpServerResponse) =>
  response.headers["x-content-type-options"] === SECURITY_HEADERS["x-content-type-options"] &&
  response.headers["referrer-policy"] === SECURITY_HEADERS["referrer-policy"]
    ? response
    : HttpServerResponse.setHeaders(response, SECURITY_HEADERS)

export const securityHeaders = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.map(app, withSecurityHeaders)

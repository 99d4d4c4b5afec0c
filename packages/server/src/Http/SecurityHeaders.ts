/**
 * docs/decisions.md D14: every response of the app — answers, problems, 404s, redirects, the docs, the
 * image files, `/metrics`, a 413, a CORS preflight — carries `X-Content-Type-Options: nosniff` (a browser never
 * guesses a type other than the one declared) and `Referrer-Policy: no-referrer` (no URL of this API leaks
 * to another site). Set by the request pipeline (`RequestPipeline.ts`), with its own headers in one copy:
 * by its pre-response handler on the answers the app writes (the error mapping's included), and by its
 * `early` path on the one answer it gives itself (the 413 of `BodyLimit.ts`, which the platform writes without
 * the pre-response handlers). This middleware, `securityHeaders`, is installed outermost (`HttpLive.ts`) only
 * when `CORS_ORIGINS` is set: CORS's preflight is then the one answer given outside the pipeline (`ROOT_PATH`
 * never answers); an answer that has the headers already (the pipeline's) is not copied again.
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

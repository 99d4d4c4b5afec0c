/**
 * docs/decisions.md D14: every response of the app — answers, problems, 404s, redirects, the docs, the
 * image files, `/metrics`, a CORS preflight — carries `X-Content-Type-Options: nosniff` (a browser never
 * guesses a type other than the one declared) and `Referrer-Policy: no-referrer` (no URL of this API leaks
 * to another site). Installed outermost (`HttpLive.ts`) twice over: as a pre-response handler, for the answers
 * the app writes (the error mapping's included), and on the answer the middlewares return, for those
 * given before the app runs (a CORS preflight, a 413), which the platform writes without those handlers.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer"
}

const addSecurityHeaders = HttpApp.appendPreResponseHandler((_request, response) =>
  Effect.succeed(HttpServerResponse.setHeaders(response, SECURITY_HEADERS))
)

export const securityHeaders = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.map(Effect.zipRight(addSecurityHeaders, app), HttpServerResponse.setHeaders(SECURITY_HEADERS))

/**
 * CORS for the browser origins of `CORS_ORIGINS` (D10; `*` allows any origin, echoed back). With none configured — the default, as in the
 * original — no `Access-Control-*` header is ever sent and a preflight `OPTIONS` is a 405.
 */
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import type * as HttpApp from "@effect/platform/HttpApp"
const EXPOSED = [
  "X-Request-Id",
  "ETag",
  "Retry-After",
  "RateLimit-Limit",
  "RateLimit-Remaining",
  "RateLimit-Reset",
  "WWW-Authenticate",
  // docs/decisions.md D15: where a create put the new resource; the unknown query parameters' notice
  "Location",
  "Warning"
]

export const cors = (origins: ReadonlyArray<string>): (<E, R>(app: HttpApp.Default<E, R>) => HttpApp.Default<E, R>) => {
  if (origins.length === 0) return (app) => app
  const allowed = new Set(origins)
  return HttpMiddleware.cors({
    // an exact match, echoed back: never `*`, since the access-token cookie needs credentials
    allowedOrigins: (origin) => allowed.has(origin) || allowed.has("*"),
    allowedMethods: ["GET", "POST", "PUT", "PATCH", "DELETE"],
    allowedHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "If-None-Match", "X-Request-Id"],
    exposedHeaders: EXPOSED,
    credentials: true,
    maxAge: 600
  })
}

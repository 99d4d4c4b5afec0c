/**
 * The documentation routes of docs/api.md §6.6, served offline by the app itself (no CDN):
 * - `/openapi.json`: the OpenAPI document of the API as served (its `servers` names `ROOT_PATH`), its example
 *   stay moved to today + 30 … + 33 (UTC) each day, so "Try it out" on `POST /bookings` books as shipped;
 * - `/docs`: Swagger UI, from the `swagger-ui-dist` package's files, streamed from disk at `/docs/swagger-ui…`
 *   (platform's `HttpApiSwagger` inlines them: about 11 MB of strings in the heap of every server process);
 * - `/docs/oauth2-redirect`: the page Swagger UI's OAuth2 flows return to, as FastAPI serves it;
 * - `/redoc`: Redoc, from the `redoc` package's standalone bundle (served at `/docs/redoc.standalone.js`).
 * Pages refer to the bundle and the document by relative URLs, so they work under any prefix the browser
 * used, and "Try it out" calls the path the document's `servers` names. `/docs/` and `/redoc/` (with the
 * slash those relative URLs would resolve wrongly: a blank page) redirect to the page, under the prefix the
 * browser used.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import { API_TITLE } from "@shum/domain/Api"
import { relativeExampleDates } from "@shum/domain/OpenApiDoc"
import { DateTime, Effect, Layer } from "effect"
import { createReadStream } from "node:fs"
import { stat } from "node:fs/promises"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { Transform } from "node:stream"

const HTML = "text/html; charset=utf-8"
const JS = "text/javascript; charset=utf-8"
/**
 * A file of an installed package, streamed from disk on each request (nothing of it stays in memory);
 * cacheable, as it changes only with the package's version.
 */
const packageFile = (path: string, contentType: string) =>
  HttpServerResponse.file(path, { headers: { "cache-control": "public, max-age=86400" } }).pipe(
    Effect.map(HttpServerResponse.setHeader("content-type", contentType)),
    Effect.orDie
  )

/** Swagger UI's `oauth2-redirect.html`, as FastAPI serves it at `/docs/oauth2-redirect`. */
const OAUTH2_REDIRECT_PAGE = `<!doctype html>
<html lang="en-US">
<head>
    <title>Swagger UI: OAuth2 Redirect</title>
</head>
<body>
<script>
    'use strict';
    function run () {
        var oauth2 = window.opener.swaggerUIRedirectOauth2;
        var sentState = oauth2.state;
        var redirectUrl = oauth2.redirectUrl;
        var isValid, qp, arr;

        if (/code|token|error/.test(window.location.hash)) {
            qp = window.location.hash.substring(1).replace('?', '&');
        } else {
            qp = location.search.substring(1);
        }

        arr = qp.split("&");
        arr.forEach(function (v,i,_arr) { _arr[i] = '"' + v.replace('=', '":"') + '"';});
        qp = qp ? JSON.parse('{' + arr.join() + '}',
                function (key, value) {
                    return key === "" ? value : decodeURIComponent(value);
                }
        ) : {};

        isValid = qp.state === sentState;

        if ((
          oauth2.auth.schema.get("flow") === "accessCode" ||
          oauth2.auth.schema.get("flow") === "authorizationCode" ||
          oauth2.auth.schema.get("flow") === "authorization_code"
        ) && !oauth2.auth.code) {
            if (!isValid) {
                oauth2.errCb({
                    authId: oauth2.auth.name,
                    source: "auth",
                    level: "warning",
                    message: "Authorization may be unsafe, passed state was changed in server. The passed state wasn't returned from auth server."
                });
            }

            if (qp.code) {
                delete oauth2.state;
                oauth2.auth.code = qp.code;
                oauth2.callback({auth: oauth2.auth, redirectUrl: redirectUrl});
            } else {
                let oauthErrorMsg;
                if (qp.error) {
                    oauthErrorMsg = "["+qp.error+"]: " +
                        (qp.error_description ? qp.error_description+ ". " : "no accessCode received from the server. ") +
                        (qp.error_uri ? "More info: "+qp.error_uri : "");
                }

                oauth2.errCb({
                    authId: oauth2.auth.name,
                    source: "auth",
                    level: "error",
                    message: oauthErrorMsg || "[Authorization failed]: no accessCode received from the server."
                });
            }
        } else {
            oauth2.callback({auth: oauth2.auth, token: qp, isValid: isValid, redirectUrl: redirectUrl});
        }
        window.close();
    }

    if (document.readyState !== 'loading') {
        run();
    } else {
        document.addEventListener('DOMContentLoaded', function () {
            run();
        });
    }
</script>
</body>
</html>
`

/**
 * Relative URLs: `/redoc` → `/docs/…`, `/openapi.json`; `/<ROOT_PATH>/redoc` → `/<ROOT_PATH>/docs/…`, …
 * The bundle renders the `<redoc>` element by itself, so the page has no inline script.
 */
const REDOC_PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>${API_TITLE} - ReDoc</title>
  <style>body { margin: 0; padding: 0; }</style>
</head>
<body>
  <redoc spec-url="openapi.json"></redoc>
  <script src="docs/redoc.standalone.js"></script>
</body>
</html>
`

/** The page's sources are all this server's (Redoc's logo included, below). */
const REDOC_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"

export const REDOC_BUNDLE_PATH = "/docs/redoc.standalone.js"

/** The `redoc` package's self-contained browser bundle (React and all), streamed from node_modules. */
const redocBundle = createRequire(import.meta.url).resolve("redoc/bundles/redoc.standalone.js")

/**
 * Redoc's menu shows Redocly's logo from Redocly's CDN. The bundle is served with that address replaced, in
 * the stream, by a local one of the same length — so its `Content-Length` stays the file's — which this
 * server answers with a logo of its own: the page fetches nothing from anywhere else. Relative, like the
 * page's other URLs: `/redoc` (or `<ROOT_PATH>/redoc`) → `/docs/redoc-logo.svg` below the same prefix.
 */
export const REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
export const REDOC_LOGO_PATH = "/docs/redoc-logo.svg"
const LOCAL_LOGO = `${REDOC_LOGO_PATH.slice(1)}?`.padEnd(REDOC_CDN_LOGO.length, "0")

/** A plain mark in Redoc's menu colours, where Redocly's logo was. */
const REDOC_LOGO = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16">
<rect x="2" y="1" width="12" height="14" rx="2" fill="none" stroke="#32329f" stroke-width="1.5"/>
<path d="M5 5h6M5 8h6M5 11h4" stroke="#32329f" stroke-width="1.5"/>
</svg>
`

/**
 * Replaces every `from` by `to` (the same length in bytes) in a byte stream, wherever the chunks split it:
 * the last `from.length - 1` bytes of each chunk wait for the next one.
 */
export const replaceInStream = (from: string, to: string): Transform => {
  const needle = Buffer.from(from, "latin1")
  const replacement = Buffer.from(to, "latin1")
  if (needle.length !== replacement.length || needle.length === 0) throw new Error("replaceInStream: lengths differ")
  let carry = Buffer.alloc(0)
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const buffer = Buffer.concat([carry, chunk])
      for (let at = buffer.indexOf(needle); at !== -1; at = buffer.indexOf(needle, at + needle.length)) {
        replacement.copy(buffer, at)
      }
      const keep = Math.min(needle.length - 1, buffer.length)
      carry = Buffer.from(buffer.subarray(buffer.length - keep))
      done(null, buffer.subarray(0, buffer.length - keep))
    },
    flush(done) {
      done(null, carry)
    }
  })
}

/** The bundle, streamed from disk with the CDN logo's address made local (`replaceInStream`). */
const redocBundleResponse = Effect.map(
  Effect.promise(() => stat(redocBundle)),
  ({ size }) =>
    HttpServerResponse.raw(createReadStream(redocBundle).pipe(replaceInStream(REDOC_CDN_LOGO, LOCAL_LOGO)), {
      contentType: JS,
      headers: { "cache-control": "public, max-age=86400", "content-length": String(size) }
    })
)

/**
 * A page, or — asked for as `/docs/` or `/redoc/` (the router takes them for the page, whose relative URLs
 * would then miss: a blank page) — a 307 to it, as the API answers other trailing slashes, the query kept.
 * The target is relative to the path requested, so the browser stays under the prefix it used, through the
 * proxy that strips `ROOT_PATH` too.
 */
const pageOrRedirect = (page: "docs" | "redoc", response: HttpServerResponse.HttpServerResponse) =>
  Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
    const q = request.url.indexOf("?")
    const path = q === -1 ? request.url : request.url.slice(0, q)
    if (!path.endsWith("/")) return response
    return HttpServerResponse.empty({
      status: 307,
      headers: { location: `../${page}${q === -1 ? "" : request.url.slice(q)}` }
    })
  })

const RedocLive = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function* () {
    yield* router.get(
      "/redoc",
      pageOrRedirect(
        "redoc",
        HttpServerResponse.text(REDOC_PAGE, {
          contentType: HTML,
          headers: { "content-security-policy": REDOC_POLICY }
        })
      )
    )
    yield* router.get(REDOC_BUNDLE_PATH, redocBundleResponse)
    yield* router.get(
      REDOC_LOGO_PATH,
      Effect.succeed(
        HttpServerResponse.text(REDOC_LOGO, {
          contentType: "image/svg+xml",
          headers: { "cache-control": "public, max-age=86400" }
        })
      )
    )
    yield* router.get(
      "/docs/oauth2-redirect",
      Effect.succeed(HttpServerResponse.text(OAUTH2_REDIRECT_PAGE, { contentType: HTML }))
    )
  })
)

/**
 * Relative URLs, as for Redoc: `/docs` → `/docs/swagger-ui…`, `/openapi.json`; under `ROOT_PATH` the same
 * below the prefix. "Try it out" calls the path the document's `servers` names.
 */
const SWAGGER_PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>${API_TITLE} - Swagger UI</title>
  <link rel="stylesheet" href="docs/swagger-ui.css" />
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/swagger-ui-init.js"></script>
</body>
</html>
`

/** Swagger UI on the served document; OAuth2 flows come back to `/docs/oauth2-redirect`. */
const SWAGGER_INIT = `window.onload = function () {
  var here = window.location.href.split("#")[0].split("?")[0]
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", here).href,
    dom_id: "#swagger-ui",
    oauth2RedirectUrl: here + "/oauth2-redirect"
  })
}
`

const SWAGGER_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self' data:; connect-src 'self'"

export const SWAGGER_ASSETS = { "swagger-ui.css": "text/css; charset=utf-8", "swagger-ui-bundle.js": JS } as const

const swaggerDist = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"))

const SwaggerLive = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function* () {
    yield* router.get(
      "/docs",
      pageOrRedirect(
        "docs",
        HttpServerResponse.text(SWAGGER_PAGE, {
          contentType: HTML,
          headers: { "content-security-policy": SWAGGER_POLICY }
        })
      )
    )
    yield* router.get(
      "/docs/swagger-ui-init.js",
      Effect.succeed(HttpServerResponse.text(SWAGGER_INIT, { contentType: JS }))
    )
    for (const [name, contentType] of Object.entries(SWAGGER_ASSETS)) {
      yield* router.get(`/docs/${name}`, packageFile(join(swaggerDist, name), contentType))
    }
  })
)

/**
 * The document is built once; its text is made again when the UTC day changes, with that day's example
 * dates (`relativeExampleDates`).
 */
const OpenApiLive = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function* () {
    const { api } = yield* HttpApi.Api
    const spec = OpenApi.fromApi(api) as unknown as Record<string, unknown>
    let served: { readonly day: string; readonly response: HttpServerResponse.HttpServerResponse } | undefined
    yield* router.get(
      "/openapi.json",
      Effect.map(DateTime.now, (now) => {
        const day = DateTime.formatIsoDateUtc(now)
        if (served?.day !== day) {
          served = { day, response: HttpServerResponse.unsafeJson(relativeExampleDates(spec, day)) }
        }
        return served.response
      })
    )
  })
)

export const DocsLive = Layer.mergeAll(SwaggerLive, OpenApiLive, RedocLive)

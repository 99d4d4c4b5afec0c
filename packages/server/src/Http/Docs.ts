/**
 * The documentation routes of docs/api.md §6.6, served offline by the app itself (no CDN):
 * - `/openapi.json`: the OpenAPI document of the API as served (its `servers` names `ROOT_PATH`);
 * - `/docs`: Swagger UI, from the `swagger-ui-dist` package's files, streamed from disk at `/docs/swagger-ui…`
 *   (platform's `HttpApiSwagger` inlines them: about 11 MB of strings in the heap of every server process);
 * - `/docs/oauth2-redirect`: the page Swagger UI's OAuth2 flows return to, as FastAPI serves it;
 * - `/redoc`: Redoc, from the `redoc` package's standalone bundle (served at `/docs/redoc.standalone.js`).
 * Pages refer to the bundle and the document by relative URLs, so they work under any prefix the browser
 * used, and "Try it out" calls the path the document's `servers` names.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { API_TITLE } from "@shum/domain/Api"
import { Effect, Layer } from "effect"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"

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

/**
 * Redoc's menu shows a logo from Redocly's CDN; this policy keeps the page to this server (the logo then
 * hides itself), so it works, and stays quiet, offline.
 */
const REDOC_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"

export const REDOC_BUNDLE_PATH = "/docs/redoc.standalone.js"

/** The `redoc` package's self-contained browser bundle (React and all), streamed from node_modules. */
const redocBundle = createRequire(import.meta.url).resolve("redoc/bundles/redoc.standalone.js")

const RedocLive = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function* () {
    const bundle = packageFile(redocBundle, JS)
    yield* router.get(
      "/redoc",
      Effect.succeed(
        HttpServerResponse.text(REDOC_PAGE, {
          contentType: HTML,
          headers: { "content-security-policy": REDOC_POLICY }
        })
      )
    )
    yield* router.get(REDOC_BUNDLE_PATH, bundle)
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
      Effect.succeed(
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

export const DocsLive = Layer.mergeAll(
  SwaggerLive,
  HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" }),
  RedocLive
)

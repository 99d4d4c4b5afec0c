/**
 * The documentation routes of API.md §6.6, served offline by the app itself (no CDN):
 * - `/openapi.json`: the OpenAPI document of the API as served (its `servers` names `ROOT_PATH`);
 * - `/docs`: Swagger UI with its assets and the document inlined (`HttpApiSwagger`);
 * - `/docs/oauth2-redirect`: the page Swagger UI's OAuth2 flows return to, as FastAPI serves it;
 * - `/redoc`: Redoc, from the `redoc` package's standalone bundle (served at `/docs/redoc.standalone.js`).
 * Pages refer to the bundle and the document by relative URLs, so they work under any prefix the browser
 * used, and "Try it out" calls the path the document's `servers` names.
 */
import { HttpApiBuilder, HttpApiSwagger, HttpServerResponse } from "@effect/platform"
import { API_TITLE } from "@shum/domain/Api"
import { Effect, Layer } from "effect"
import { readFile } from "node:fs/promises"
import { createRequire } from "node:module"

const HTML = "text/html; charset=utf-8"

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

/** The `redoc` package's self-contained browser bundle (React and all), read once from node_modules. */
const redocBundle = Effect.promise(() =>
  readFile(createRequire(import.meta.url).resolve("redoc/bundles/redoc.standalone.js"))
)

const RedocLive = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function* () {
    const bundle = yield* Effect.cached(
      Effect.map(redocBundle, (body) =>
        HttpServerResponse.uint8Array(body, {
          contentType: "text/javascript; charset=utf-8",
          headers: { "cache-control": "public, max-age=86400" }
        })
      )
    )
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

export const DocsLive = Layer.mergeAll(
  HttpApiSwagger.layer({ path: "/docs" }),
  HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" }),
  RedocLive
)

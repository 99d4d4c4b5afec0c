/**
 * The documentation routes (docs/api.md §6.6), bare and under `ROOT_PATH`: the document as served, Swagger UI,
 * its OAuth2 redirect page and Redoc, offline, with their content types. And the document's ETag/304 says
 * what the server does.
 */
import { HttpClient, OpenApi } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { ShumApi } from "@shum/domain/Api"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { documentedApi } from "../src/Http.js"
import { REDOC_BUNDLE_PATH, SWAGGER_ASSETS } from "../src/Http/Docs.js"
import { isCatalogueRead } from "../src/Http/Etag.js"
import { allRoutes } from "../src/Http/RouteTable.js"
import { document } from "./Contract.js"
import { contractChecks } from "./ContractClient.js"
import { client, makeTestServer, TestServer } from "./support.js"

const PREFIX = "/apps/shum-booking"
const redocBundle = readFileSync(createRequire(import.meta.url).resolve("redoc/bundles/redoc.standalone.js"))
const swaggerDist = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"))

const get = (path: string) =>
  Effect.flatMap(HttpClient.HttpClient, (http) => http.get(path)).pipe(
    Effect.flatMap((response) =>
      Effect.map(response.text, (text) => ({ status: response.status, headers: response.headers, text }))
    )
  )

/** No page refers to anything on another host: the docs work offline. */
const assertOffline = (html: string) => {
  for (const [, url] of html.matchAll(/(?:src|href)="([^"]*)"/g)) assert.notMatch(url!, /^(?:https?:)?\/\//, url)
}

const servesTheDocs = (prefix: string) =>
  Effect.gen(function* () {
    const spec = yield* get(`${prefix}/openapi.json`)
    assert.strictEqual(spec.status, 200)
    assert.include(spec.headers["content-type"], "application/json")
    assert.deepStrictEqual(JSON.parse(spec.text), OpenApi.fromApi(documentedApi(prefix)))

    const swagger = yield* get(`${prefix}/docs`)
    assert.strictEqual(swagger.status, 200)
    assert.include(swagger.headers["content-type"], "text/html")
    assert.include(swagger.headers["content-security-policy"], "default-src 'self'")
    // relative: `${prefix}/docs/swagger-ui…` from `${prefix}/docs`, the files of `swagger-ui-dist`
    for (const [name, contentType] of Object.entries(SWAGGER_ASSETS)) {
      assert.include(swagger.text, `"docs/${name}"`)
      const asset = yield* get(`${prefix}/docs/${name}`)
      assert.strictEqual(asset.status, 200, name)
      assert.strictEqual(asset.headers["content-type"], contentType, name)
      assert.strictEqual(asset.headers["cache-control"], "public, max-age=86400", name)
      assert.strictEqual(asset.text, readFileSync(join(swaggerDist, name), "utf8"), name)
    }
    assert.include(swagger.text, `<script src="docs/swagger-ui-init.js"></script>`)
    const init = yield* get(`${prefix}/docs/swagger-ui-init.js`)
    assert.strictEqual(init.status, 200)
    assert.include(init.text, `new URL("openapi.json", here)`) // the document as served, under any prefix
    assertOffline(swagger.text)

    const redirect = yield* get(`${prefix}/docs/oauth2-redirect`)
    assert.strictEqual(redirect.status, 200)
    assert.strictEqual(redirect.headers["content-type"], "text/html; charset=utf-8")
    assert.include(redirect.text, "window.opener.swaggerUIRedirectOauth2")

    const redoc = yield* get(`${prefix}/redoc`)
    assert.strictEqual(redoc.status, 200)
    assert.strictEqual(redoc.headers["content-type"], "text/html; charset=utf-8")
    // relative: `${prefix}/docs/redoc.standalone.js` and `${prefix}/openapi.json` from `${prefix}/redoc`
    assert.include(redoc.text, `<script src="${REDOC_BUNDLE_PATH.slice(1)}"></script>`)
    assert.include(redoc.text, `<redoc spec-url="openapi.json">`)
    assert.include(redoc.headers["content-security-policy"], "default-src 'self'")
    assertOffline(redoc.text)

    const bundle = yield* get(`${prefix}${REDOC_BUNDLE_PATH}`)
    assert.strictEqual(bundle.status, 200)
    assert.strictEqual(bundle.headers["content-type"], "text/javascript; charset=utf-8")
    assert.strictEqual(bundle.text, redocBundle.toString("utf8"))
  })

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("documentation routes", (it) => {
  it.effect("/openapi.json is the document of ShumApi; /docs, /docs/oauth2-redirect and /redoc are served", () =>
    Effect.gen(function* () {
      yield* servesTheDocs("")
      const spec = JSON.parse((yield* get("/openapi.json")).text) as { servers?: unknown }
      // what `npm run client:generate` and `npm run openapi:lint` use is exactly what is served here
      assert.deepStrictEqual(spec, OpenApi.fromApi(ShumApi))
      assert.deepStrictEqual(spec.servers, [{ url: "/", description: "This server" }])
    })
  )

  it.effect("every response of the test client is checked against the document", () =>
    Effect.gen(function* () {
      const before = contractChecks.count
      yield* (yield* client).hotels.list({ urlParams: {} })
      yield* get("/nowhere")
      assert.strictEqual(contractChecks.count, before + 2)
    })
  )

  it("documents 304 exactly on the reads that the server's ETag step serves (D7)", () => {
    for (const route of allRoutes) {
      const template = route.template.replace(/:(\w+)/g, "{$1}")
      const operation = document.paths[template]![route.method.toLowerCase()]!
      const sample = route.template.replace(/:\w+/g, "1")
      assert.strictEqual("304" in operation.responses, isCatalogueRead(route.method, sample), template)
    }
  })
})

layer(makeTestServer({ ROOT_PATH: PREFIX }), { excludeTestServices: true, timeout: "60 seconds" })(
  "documentation routes under ROOT_PATH",
  (it) => {
    it.effect("the same routes answer under the prefix, the document naming it in `servers`", () =>
      Effect.gen(function* () {
        yield* servesTheDocs(PREFIX)
        const spec = JSON.parse((yield* get(`${PREFIX}/openapi.json`)).text) as { servers: unknown }
        assert.deepStrictEqual(spec.servers, [{ url: PREFIX, description: "Production server" }])
      })
    )
  }
)

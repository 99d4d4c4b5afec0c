/**
 * The documentation routes (docs/api.md §6.6), bare and under `ROOT_PATH`: the document as served, Swagger UI,
 * its OAuth2 redirect page and Redoc, offline, with their content types. And the document's ETag/304 says
 * what the server does.
 */
import { HttpClient, OpenApi } from "@effect/platform"
import { assert, describe, it, layer } from "@effect/vitest"
import { ShumApi } from "@shum/domain/Api"
import { EXAMPLE_CHECK_IN, EXAMPLE_CHECK_OUT } from "@shum/domain/Common"
import { relativeExampleDates } from "@shum/domain/OpenApiDoc"
import { DateTime, Effect } from "effect"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { Readable } from "node:stream"
import { documentedApi } from "../src/HttpLive.js"
import {
  REDOC_BUNDLE_PATH,
  REDOC_CDN_LOGO,
  REDOC_LOGO_PATH,
  replaceInStream,
  SWAGGER_ASSETS
} from "../src/Http/Docs.js"
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
    assert.deepStrictEqual(JSON.parse(spec.text), servedOn(today(), OpenApi.fromApi(documentedApi(prefix))))

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
    // the file, but for the CDN logo's address: the same length, a path of this server
    assert.strictEqual(bundle.headers["content-length"], String(redocBundle.length))
    assert.notInclude(bundle.text, "cdn.redoc.ly")
    const local = bundle.text.indexOf("docs/redoc-logo.svg?")
    assert.isAbove(local, 0)
    assert.strictEqual(
      bundle.text,
      redocBundle.toString("utf8").replace(REDOC_CDN_LOGO, bundle.text.slice(local, local + REDOC_CDN_LOGO.length))
    )
    const logo = yield* get(`${prefix}${REDOC_LOGO_PATH}`)
    assert.deepStrictEqual([logo.status, logo.headers["content-type"]], [200, "image/svg+xml"])
    assert.include(logo.text, "<svg")

    // the pages asked for with a trailing slash: back to the page, under the prefix the browser used
    for (const [asked, page] of [
      ["/docs/", "docs"],
      ["/redoc/", "redoc"],
      ["/docs/?tab=1", "docs"]
    ] as const) {
      const redirect = yield* get(`${prefix}${asked}`)
      assert.strictEqual(redirect.status, 307, asked)
      const target = new URL(redirect.headers["location"]!, `http://host${prefix}${asked}`)
      assert.strictEqual(
        `${target.pathname}${target.search}`,
        `${prefix}/${page}${asked.includes("?") ? "?tab=1" : ""}`
      )
    }
  })

const today = () => DateTime.formatIsoDateUtc(DateTime.unsafeNow())
const servedOn = (day: string, spec: OpenApi.OpenAPISpec) =>
  relativeExampleDates(spec as unknown as Record<string, unknown>, day)

describe("serving the docs", () => {
  it("replaceInStream replaces the text wherever the chunks split it", async () => {
    const text = `a${REDOC_CDN_LOGO}b${REDOC_CDN_LOGO}`
    const bytes = Buffer.from(text)
    for (let cut = 0; cut <= bytes.length; cut++) {
      const stream = Readable.from([bytes.subarray(0, cut), bytes.subarray(cut)]).pipe(
        replaceInStream(REDOC_CDN_LOGO, "x".repeat(REDOC_CDN_LOGO.length))
      )
      const out: Array<Buffer> = []
      for await (const chunk of stream) out.push(chunk as Buffer)
      assert.strictEqual(Buffer.concat(out).toString(), text.replaceAll(REDOC_CDN_LOGO, "x".repeat(40)), `cut ${cut}`)
    }
  })

  it("the served document's example stay is today + 30 … + 33; the document itself keeps fixed dates", () => {
    const spec = OpenApi.fromApi(ShumApi)
    type Operation = {
      readonly requestBody: {
        readonly content: Record<string, { readonly examples: Record<string, { value: unknown }> }>
      }
      readonly parameters: ReadonlyArray<{ readonly name: string; readonly schema: { readonly examples: [string] } }>
    }
    const operation = (doc: unknown, path: string, method: string) =>
      (doc as { paths: Record<string, Record<string, Operation>> }).paths[path]![method]!
    const example = (doc: unknown) =>
      operation(doc, "/bookings", "post").requestBody.content["application/json"]!.examples["BookingIn"]!.value
    assert.deepInclude(example(spec), { date_from: EXAMPLE_CHECK_IN, date_to: EXAMPLE_CHECK_OUT })
    assert.deepInclude(example(servedOn("2027-01-30", spec)), { date_from: "2027-03-01", date_to: "2027-03-04" })
    const served = JSON.stringify(servedOn("2027-01-30", spec))
    assert.notInclude(served, EXAMPLE_CHECK_IN)
    assert.notInclude(served, EXAMPLE_CHECK_OUT)
    // the availability searches' query examples too: a stay of three nights
    const search = operation(servedOn("2027-01-30", spec), "/hotels/rooms/available", "get").parameters
    const dates = Object.fromEntries(
      search.filter((p) => p.name.startsWith("date_")).map((p) => [p.name, p.schema.examples[0]])
    )
    assert.deepStrictEqual(dates, { date_from: "2027-03-01", date_to: "2027-03-04" })
  })
})

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("documentation routes", (it) => {
  it.effect("/openapi.json is the document of ShumApi; /docs, /docs/oauth2-redirect and /redoc are served", () =>
    Effect.gen(function* () {
      yield* servesTheDocs("")
      const spec = JSON.parse((yield* get("/openapi.json")).text) as { servers?: unknown }
      // what `npm run client:generate` and `npm run openapi:lint` use is what is served here, but for the
      // examples' dates, which the server moves to today's
      assert.deepStrictEqual(spec, servedOn(today(), OpenApi.fromApi(ShumApi)))
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

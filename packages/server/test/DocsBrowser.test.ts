/**
 * Swagger UI (and Redoc) in a real browser: Debian's `chromium` driven by playwright-core against the real
 * server with a hotel in it, bare and under `ROOT_PATH`. Every request the page makes must stay on the
 * server (anything else is aborted and fails the test): the docs work offline. Screenshots are kept in
 * `test-results/` (git-ignored). `.ci/run` installs chromium when it is missing.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type BrowserContext, chromium } from "playwright-core"
import { seedHotel, serverUrl } from "./DocsFixtures.js"
import { makeTestServer, TestServer } from "./support.js"

/** Debian's chromium; `CHROMIUM_PATH` names another Chromium-based browser (e.g. on a runner without it). */
const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium"
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]
const RESULTS = fileURLToPath(new URL("../../../test-results/", import.meta.url))
const PREFIX = "/apps/shum-booking"
const TAGS = [
  "Система",
  "Аутентификация",
  "Пользователи",
  "Отели",
  "Номера",
  "Бронирования",
  "Удобства",
  "Изображения отелей",
  "Страны",
  "Города"
]

/** A fresh browser profile per run, removed afterwards; requests off `origin` are aborted and recorded. */
const browser = (origin: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      if (!existsSync(CHROMIUM)) {
        throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does), or set CHROMIUM_PATH`)
      }
      const profile = mkdtempSync(join(tmpdir(), "shum-chromium-"))
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: FLAGS,
        viewport: { width: 1280, height: 1600 }
      })
      const offsite: Array<string> = []
      await context.route("**/*", (route) => {
        const url = route.request().url()
        if (url.startsWith(origin)) return route.continue()
        offsite.push(url)
        return route.abort()
      })
      return { context, profile, offsite }
    }),
    ({ context, profile }) =>
      Effect.promise(async () => {
        await context.close()
        rmSync(profile, { recursive: true, force: true })
      })
  )

/** Opens Swagger UI, checks the tags, runs `GET /hotels` with "Try it out" and returns what the page showed. */
const tryListHotels = async (context: BrowserContext, docsUrl: string, screenshot: string) => {
  const page = context.pages()[0] ?? (await context.newPage())
  const apiRequests: Array<string> = []
  page.on("request", (request) => {
    if (request.url().includes("/hotels")) apiRequests.push(request.url())
  })
  await page.goto(docsUrl)
  await page.locator(".swagger-ui .info .title").waitFor()
  const tags = await page.locator("h3.opblock-tag").evaluateAll((nodes) => nodes.map((n) => n.getAttribute("data-tag")))

  const operation = page.locator('[id="operations-Отели-listHotels"]')
  await operation.locator(".opblock-summary").first().click()
  await operation.getByRole("button", { name: "Try it out" }).click()
  await operation.getByRole("button", { name: "Execute" }).click()
  const response = operation.locator(".live-responses-table .response").first()
  await response.waitFor()
  const status = (await response.locator(".response-col_status").innerText()).trim()
  const body = await response.locator(".response-col_description pre").first().innerText()
  const requestUrl = await operation.locator(".request-url pre").innerText()
  await operation.scrollIntoViewIfNeeded()
  mkdirSync(RESULTS, { recursive: true })
  await page.screenshot({ path: join(RESULTS, screenshot), fullPage: false })
  return { tags, status, body, requestUrl, apiRequests }
}

/** Redoc renders the document from the bundle the server serves. */
const openRedoc = async (context: BrowserContext, redocUrl: string, screenshot: string) => {
  const page = await context.newPage()
  const errors: Array<string> = []
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text())
  })
  await page.goto(redocUrl)
  await page.locator(".api-info h1").waitFor()
  const title = await page.locator(".api-info h1").innerText()
  const menu = await page.locator(".menu-content").innerText()
  await page.screenshot({ path: join(RESULTS, screenshot) })
  await page.close()
  return { title, menu, errors }
}

const checkDocs = (prefix: string, name: string) =>
  Effect.gen(function* () {
    const origin = yield* serverUrl
    const { hotel } = yield* seedHotel({ price: 3000, quantity: 5 })
    const { context, offsite } = yield* browser(origin)

    const swagger = yield* Effect.promise(() => tryListHotels(context, `${origin}${prefix}/docs`, `${name}.png`))
    assert.deepStrictEqual(swagger.tags, TAGS)
    assert.strictEqual(swagger.status, "200")
    const hotels = JSON.parse(swagger.body) as Array<{ id: number; title: string }>
    assert.isTrue(
      hotels.some((h) => h.id === hotel.id && h.title === hotel.title),
      swagger.body
    )
    // "Try it out" called the path the document's `servers` names
    assert.match(swagger.requestUrl, new RegExp(`^${origin}${prefix}/hotels(\\?|$)`))
    assert.isNotEmpty(swagger.apiRequests)
    for (const url of swagger.apiRequests) assert.isTrue(url.startsWith(`${origin}${prefix}/hotels`), url)

    const redoc = yield* Effect.promise(() => openRedoc(context, `${origin}${prefix}/redoc`, `${name}-redoc.png`))
    assert.include(redoc.title, "Shum Booking API")
    for (const tag of TAGS) assert.include(redoc.menu, tag)
    // the only complaint: the CSP of /redoc refusing Redocly's CDN logo
    assert.deepStrictEqual(
      redoc.errors.filter((error) => !error.includes("cdn.redoc.ly/redoc/logo-mini.svg")),
      []
    )

    assert.deepStrictEqual(offsite, [], `the docs asked for something off the server: ${offsite.join(", ")}`)
  }).pipe(Effect.scoped)

layer(TestServer, { excludeTestServices: true, timeout: "120 seconds" })("Swagger UI in chromium", (it) => {
  it.effect("/docs: every tag, GET /hotels → Try it out → Execute → 200 with the hotels; /redoc renders", () =>
    checkDocs("", "swagger")
  )
})

layer(makeTestServer({ ROOT_PATH: PREFIX }), { excludeTestServices: true, timeout: "120 seconds" })(
  "Swagger UI in chromium under ROOT_PATH",
  (it) => {
    it.effect("the prefixed /docs works the same and Try it out calls the prefixed path", () =>
      checkDocs(PREFIX, "swagger-root-path")
    )
  }
)

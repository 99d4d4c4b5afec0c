/**
 * Swagger UI (and Redoc) in a real browser: Debian's `chromium` driven by playwright-core against the real
 * server with a hotel in it, bare and under `ROOT_PATH`. Every request the page makes must stay on the
 * server (anything else is aborted and fails the test): the docs work offline. Screenshots are kept in
 * `test-results/` (git-ignored). `.ci/run` installs chromium when it is missing. Under each: every tag, "Try it
 * out" on `GET /hotels`; Authorize, then "Try it out" on `POST /bookings` with the shipped example (booked);
 * Redoc with its menu logo from this server; `/docs/` and `/redoc/` landing on the page.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type BrowserContext, chromium } from "playwright-core"
import { day, newUser } from "./BookingsFixtures.js"
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
  "Города",
  "Вебхуки",
  "Удержания",
  "Аудит"
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

/**
 * Authorize with a bearer token in Swagger UI, then "Try it out" on `POST /bookings` with the shipped example
 * body as it is (the served document's example stay is today + 30 … + 33) and return what the page showed.
 */
const bookWithTheExample = async (context: BrowserContext, docsUrl: string, token: string, screenshot: string) => {
  const page = await context.newPage()
  await page.goto(docsUrl)
  await page.locator(".swagger-ui .info .title").waitFor()

  await page.locator("button.btn.authorize").first().click()
  const modal = page.locator(".dialog-ux .modal-ux")
  const bearer = modal.locator(".auth-container").filter({ has: page.locator("h4", { hasText: /^bearer/ }) })
  await bearer.locator("input").fill(token)
  await bearer.locator("button.authorize", { hasText: "Authorize" }).click()
  await bearer.locator("button", { hasText: "Logout" }).waitFor()
  await modal.locator("button.close-modal").click()

  const operation = page.locator('[id="operations-Бронирования-createBooking"]')
  await operation.locator(".opblock-summary").first().click()
  await operation.getByRole("button", { name: "Try it out" }).click()
  const sent = await operation.locator("textarea.body-param__text").inputValue()
  await operation.getByRole("button", { name: "Execute" }).click()
  const response = operation.locator(".live-responses-table .response").first()
  await response.waitFor()
  const status = (await response.locator(".response-col_status").innerText()).trim()
  const body = await response.locator(".response-col_description pre").first().innerText()
  const curl = await operation.locator(".curl-command").innerText()
  await operation.scrollIntoViewIfNeeded()
  await page.screenshot({ path: join(RESULTS, screenshot), fullPage: false })
  await page.close()
  return { sent, status, body, curl }
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
  const logo = page.locator('.menu-content img[alt="redocly logo"]')
  await logo.waitFor()
  // (a browser-side function: its argument is an HTMLImageElement, typed here by what is read of it)
  const logoLoaded = await logo.evaluate((img) => {
    const image = img as unknown as { readonly complete: boolean; readonly naturalWidth: number }
    return image.complete && image.naturalWidth > 0
  })
  await page.screenshot({ path: join(RESULTS, screenshot) })
  await page.close()
  return { title, menu, errors, logoLoaded }
}

/** Where the browser ends up from `url`, and whether the page there rendered (Swagger UI's or Redoc's title). */
const landingOf = async (context: BrowserContext, url: string) => {
  const page = await context.newPage()
  await page.goto(url)
  const rendered = await page
    .locator(".swagger-ui .info .title, .api-info h1")
    .first()
    .waitFor({ timeout: 30_000 })
    .then(
      () => true,
      () => false
    )
  const landed = { url: page.url(), rendered }
  await page.close()
  return landed
}

const checkDocs = (prefix: string, name: string) =>
  Effect.gen(function* () {
    const origin = yield* serverUrl
    const { hotel, room } = yield* seedHotel({ price: 3000, quantity: 5 })
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

    // Authorize, then book with the shipped example as it is: it names room 1 (the first room of a fresh
    // database, as of the embedded default's demo data) and a stay 30 days from today
    assert.strictEqual(room.id, 1)
    const guest = yield* newUser()
    const booked = yield* Effect.promise(() =>
      bookWithTheExample(context, `${origin}${prefix}/docs`, guest.token, `${name}-booking.png`)
    )
    assert.deepStrictEqual(JSON.parse(booked.sent), { room_id: 1, date_from: day(30), date_to: day(33) })
    assert.include(booked.curl, `Authorization: Bearer ${guest.token}`)
    assert.strictEqual(booked.status, "200", booked.body)
    const answer = JSON.parse(booked.body) as { status: string; id: number; booking: Record<string, unknown> }
    assert.deepStrictEqual(answer.status, "OK")
    assert.deepInclude(answer.booking, {
      id: answer.id,
      room_id: 1,
      user_id: guest.id,
      date_from: day(30),
      date_to: day(33),
      price: 3 * 3000
    })
    assert.deepStrictEqual(yield* guest.api.bookings.get({ path: { booking_id: answer.id } }), answer.booking)

    const redoc = yield* Effect.promise(() => openRedoc(context, `${origin}${prefix}/redoc`, `${name}-redoc.png`))
    assert.include(redoc.title, "Shum Booking API")
    for (const tag of TAGS) assert.include(redoc.menu, tag)
    // no complaint at all: Redocly's logo comes from this server, like everything else
    assert.deepStrictEqual(redoc.errors, [])
    assert.isTrue(redoc.logoLoaded, "Redoc's menu logo, served by this server, did not load")

    // the pages asked for with a trailing slash land on the page, under the same prefix
    for (const page of ["docs", "redoc"]) {
      const landed = yield* Effect.promise(() => landingOf(context, `${origin}${prefix}/${page}/`))
      assert.strictEqual(landed.url, `${origin}${prefix}/${page}`)
      assert.isTrue(landed.rendered, `${prefix}/${page}/ did not render the page`)
    }

    assert.deepStrictEqual(offsite, [], `the docs asked for something off the server: ${offsite.join(", ")}`)
  }).pipe(Effect.scoped)

layer(TestServer, { excludeTestServices: true, timeout: "120 seconds" })("Swagger UI in chromium", (it) => {
  it.effect(
    "/docs: every tag, GET /hotels → Try it out → Execute → 200 with the hotels; /redoc renders",
    () => checkDocs("", "swagger"),
    180_000
  )
})

layer(makeTestServer({ ROOT_PATH: PREFIX }), { excludeTestServices: true, timeout: "120 seconds" })(
  "Swagger UI in chromium under ROOT_PATH",
  (it) => {
    it.effect(
      "the prefixed /docs works the same and Try it out calls the prefixed path",
      () => checkDocs(PREFIX, "swagger-root-path"),
      180_000
    )
  }
)

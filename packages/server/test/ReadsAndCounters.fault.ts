/**
 * Two caches of the server under faults, on a server process (`npm start`'s code) over a PostgreSQL database
 * and a `redis-server` of this file's own (a spare port, no persistence):
 *
 * - the catalogue read cache (docs/decisions.md D7): while the server cannot reach PostgreSQL (its role may
 *   not log in, its connections are ended), a catalogue read answers 503 E-91 with `Retry-After`, as every
 *   other read does — never a kept answer it can no longer validate; a change made meanwhile by someone else
 *   is what it answers once PostgreSQL is back, without a restart;
 * - the sign-in failure bursts of the audit log (D17, docs/operations.md §2.1): Redis restarted empty in the
 *   middle of a window forgets the counts, so a burst still going on is recorded once more — at most twice in
 *   all, after `AUDIT_SIGN_IN_BURST_THRESHOLD` further failures — and every sign-in is answered 401 throughout,
 *   while Redis is down too.
 */
import { databaseUrl, randomName, withPgClient } from "@shum/infra/Testing"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort, OwnRedis, type Proc, startServerProcess, waitFor, waitReady } from "./FaultSupport.js"
import { TEST_SECRET } from "./support.js"

const ADMIN = { email: "reads-admin@example.com", password: "fault-suite-pass" }
const THRESHOLD = 3
const database = randomName("shum_fault_")
/** The server's own role: taking its LOGIN away cuts the server off while this file keeps its access. */
const role = randomName("shum_fault_role_")

const asPostgres = <R extends pg.QueryResultRow>(db: string, text: string, values: Array<unknown> = []) =>
  withPgClient(databaseUrl(db), (c) => c.query<R>(text, values)).then((r) => r.rows)
const query = <R extends pg.QueryResultRow>(text: string, values: Array<unknown> = []) =>
  asPostgres<R>(database, text, values)

// --- this file's own Redis -----------------------------------------------------------------------------

/** Started in `beforeAll` on a spare port (`FaultSupport.ts`). */
let redis: OwnRedis

// --- the server ----------------------------------------------------------------------------------------

let server: Proc | undefined
let base = ""
let token = ""

interface Answer {
  readonly status: number
  readonly retryAfter: string | null
  readonly body: unknown
}
const send = async (path: string, init: RequestInit = {}): Promise<Answer> => {
  const response = await fetch(`${base}${path}`, init)
  const text = await response.text()
  return {
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    body: text === "" ? undefined : (JSON.parse(text) as unknown)
  }
}
const asAdmin = (method: string, path: string, body?: unknown) =>
  send(path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
const metric = async (name: string) => {
  const text = await (await fetch(`${base}/metrics`)).text()
  const line = text.split("\n").find((l) => l.startsWith(name))
  return line === undefined ? 0 : Number(line.split(" ").at(-1))
}

beforeAll(async () => {
  await asPostgres("postgres", `CREATE ROLE ${role} LOGIN SUPERUSER`)
  await asPostgres("postgres", `CREATE DATABASE ${database} OWNER ${role}`)
  redis = new OwnRedis(await freePort())
  await redis.start()
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  const url = new URL(databaseUrl(database))
  url.username = role
  url.password = ""
  server = startServerProcess({
    APP_ENV: "test",
    JWT_SECRET_KEY: TEST_SECRET,
    DATABASE_URL: url.toString(),
    REDIS_URL: redis.url,
    HOST: "127.0.0.1",
    PORT: String(port),
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    AUDIT_SIGN_IN_BURST_THRESHOLD: String(THRESHOLD),
    AUDIT_SIGN_IN_BURST_WINDOW_SECONDS: "600",
    ENABLE_METRICS_IN_TESTS: "true",
    LOG_LEVEL: "WARNING"
  })
  await waitReady(server, base)
  const login = await send("/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(ADMIN)
  })
  expect(login.status).toBe(200)
  token = (login.body as { access_token: string }).access_token
}, 180_000)

afterAll(async () => {
  await server?.kill()
  await redis.stop()
  await asPostgres("postgres", `ALTER ROLE ${role} LOGIN`).catch(() => undefined)
  await asPostgres("postgres", `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined)
  await asPostgres("postgres", `DROP ROLE IF EXISTS ${role}`).catch(() => undefined)
}, 60_000)

describe("the catalogue read cache while PostgreSQL is out of reach (D7)", () => {
  it("503 E-91 with Retry-After meanwhile (reads and searches), never a kept answer; a change made meanwhile is served after", async () => {
    const country = await asAdmin("POST", "/countries", { name: "Кешландия", iso_code: "KL" })
    expect(country.status).toBe(200)
    const city = await asAdmin("POST", "/cities", { name: "Кешград", country_id: (country.body as { id: number }).id })
    expect(city.status).toBe(200)
    const hotel = await asAdmin("POST", "/hotels", { title: "Старое имя", city: "Кешград", address: "ул. Кеша, 1" })
    expect(hotel.status).toBe(200)
    const id = (hotel.body as { id: number }).id
    const paths = [`/hotels/${id}`, `/hotels?title=${encodeURIComponent("Старое")}`, `/hotels/${id}/rooms`]
    // each read twice: the second is served from the cache
    const hitsBefore = await metric('cache_hits_total{namespace="catalogue"}')
    for (const path of paths) {
      expect((await send(path)).status).toBe(200)
      expect((await send(path)).status).toBe(200)
    }
    expect(await metric('cache_hits_total{namespace="catalogue"}')).toBeGreaterThanOrEqual(hitsBefore + paths.length)
    // the availability searches keep the hotel's fragments (its JSON without the free units) the same way
    const stay = (() => {
      const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10)
      return `date_from=${day(10)}&date_to=${day(12)}`
    })()
    const searches = [`/hotels/rooms/available?${stay}&hotel_id=${id}`, `/hotels/${id}/rooms/available?${stay}`]
    for (const path of searches) {
      expect((await send(path)).status, path).toBe(200)
      expect((await send(path)).status, path).toBe(200)
    }
    expect(((await send(searches[0]!)).body as Array<{ title: string }>)[0]!.title).toBe("Старое имя")

    // the server is cut off: its role may not log in, its connections are ended
    await asPostgres("postgres", `ALTER ROLE ${role} NOLOGIN`)
    try {
      await asPostgres("postgres", `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [role])
      for (const path of [...paths, ...searches]) {
        const answer = await send(path)
        expect(answer.status, path).toBe(503)
        expect(answer.retryAfter, path).toMatch(/^[1-9]\d*$/)
        expect(answer.body).toMatchObject({
          type: "/problems/service-unavailable",
          detail: "Сервис базы данных временно недоступен. Попробуйте позже."
        })
      }
      expect((await send("/ready")).status).toBe(503)
      // meanwhile someone else renames the hotel (a tool, another replica)
      await query(`UPDATE hotels SET title = 'Новое имя' WHERE id = $1`, [id])
    } finally {
      await asPostgres("postgres", `ALTER ROLE ${role} LOGIN`)
    }
    await waitReady(server!, base)
    const fresh = await send(`/hotels/${id}`)
    expect(fresh.status).toBe(200)
    expect((fresh.body as { title: string }).title).toBe("Новое имя")
    expect((await send(`/hotels?title=${encodeURIComponent("Старое")}`)).body).toEqual([])
    const renamed = await send(`/hotels?title=${encodeURIComponent("Новое")}`)
    expect((renamed.body as Array<{ id: number }>).map((h) => h.id)).toEqual([id])
    expect(((await send(searches[0]!)).body as Array<{ title: string }>)[0]!.title).toBe("Новое имя")
    // and the cache works again: a repeated read is a hit
    const hits = await metric('cache_hits_total{namespace="catalogue"}')
    expect((await send(`/hotels/${id}`)).status).toBe(200)
    expect(await metric('cache_hits_total{namespace="catalogue"}')).toBe(hits + 1)
  }, 120_000)
})

describe("sign-in failure bursts when Redis restarts empty (D17)", () => {
  it("a burst is recorded once per window, once more after a restart that lost the counts; every answer 401", async () => {
    const email = `${randomName("burst")}@example.com`
    const statuses: Array<number> = []
    const fail = async (times: number) => {
      for (let i = 0; i < times; i++) {
        const answer = await send("/auth/login", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email, password: "wrong-password" })
        })
        statuses.push(answer.status)
      }
    }
    const bursts = async () =>
      (
        await query<{ n: string }>(
          `SELECT count(*) AS n FROM audit_log
           WHERE action = 'auth.sign_in_failed_burst' AND changes->'email'->>'after' = $1
             AND changes->'by'->'after' ? 'email'`,
          [email]
        )
      )[0]!.n
    const redisState = async () => ((await send("/health/detailed")).body as { redis: string }).redis

    await fail(THRESHOLD)
    expect(await bursts()).toBe("1")
    await fail(THRESHOLD * 2)
    expect(await bursts(), "one row per window, however many failures").toBe("1")

    // Redis goes away: the failures are not counted (a warning), the sign-ins answered as ever
    await redis.stop()
    await waitFor("the server to see Redis gone", async () => (await redisState()) === "disconnected", 20_000)
    await fail(THRESHOLD * 2)
    expect(await bursts()).toBe("1")

    // back, empty: the counts start again, so the burst going on is recorded a second time — once
    await redis.start()
    await waitFor("the server to see Redis back", async () => (await redisState()) === "connected", 30_000)
    await fail(THRESHOLD - 1)
    expect(await bursts(), "not before the threshold again").toBe("1")
    await fail(1)
    expect(await bursts()).toBe("2")
    await fail(THRESHOLD * 3)
    expect(await bursts(), "at most twice").toBe("2")

    expect(new Set(statuses)).toEqual(new Set([401]))
  }, 120_000)
})

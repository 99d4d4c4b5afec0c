/**
 * docs/decisions.md D16 and docs/data.md BR-13 under a fault: PostgreSQL refusing connections (the database's
 * `ALLOW_CONNECTIONS` off and every backend terminated, as `ImageFaults.fault.ts` does) under the webhook
 * dispatcher and the hold sweep, in both processes that run them — the worker (`packages/worker/src/main.ts`)
 * and a server with no Redis (which runs both in process, `Webhooks/WebhooksWorker.ts`,
 * `Holds/HoldSweepInProcess.ts`). Events waiting when the database goes, and holds that expire while it is
 * gone, are all handled once it is back, with nothing restarted: every event delivered (each `webhook-id`
 * answered 200), every hold swept (`expired`, and its `hold.expired` delivered), the process alive all
 * along; its log says the rounds failed, and its metrics count the deliveries and the holds expired.
 */
import { databaseUrl, randomName, withPgClient } from "@shum/infra/Testing"
import { generateSecret, makeCipher } from "@shum/infra/WebhookSigning"
import { Option, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { killQuietly, spawnWorker } from "../../worker/test/WorkerProcess.js"
import { freePort, sleep, startServerProcess, waitFor, waitReady } from "./FaultSupport.js"
import { TEST_SECRET } from "./support.js"

const KEY = "webhook-outage-test-key-0123456789"
const ADMIN_URL = databaseUrl("postgres")
const WEBHOOK_ENV = {
  WEBHOOK_SECRET_KEY: KEY,
  WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
  WEBHOOK_TIMEOUT_SECONDS: "2",
  WEBHOOK_LEASE_SECONDS: "3",
  WEBHOOK_RETRY_BASE_SECONDS: "1",
  WEBHOOK_MAX_ATTEMPTS: "30",
  WEBHOOK_POLL_MS: "50"
}

/** The receiver: each request's `webhook-id` and the answer it got (503 until `healthy`). */
const answered: Array<{ id: string; status: number }> = []
let healthy = false
const receiver = createServer((request, response) => {
  request.resume()
  request.on("end", () => {
    const status = healthy ? 200 : 503
    answered.push({ id: String(request.headers["webhook-id"]), status })
    response.writeHead(status).end()
  })
})
let receiverPort = 0

beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
  receiverPort = (receiver.address() as AddressInfo).port
})
afterAll(() => {
  receiver.closeAllConnections()
  receiver.close()
})

interface Target {
  /** Starts the process on `database` (it migrates it): its metrics URL, liveness and output. */
  readonly start: (database: string) => Promise<{
    readonly metrics: string
    readonly running: () => boolean
    readonly output: () => string
    readonly stop: () => Promise<void>
  }>
}

const TARGETS: Record<string, Target> = {
  "the worker": {
    start: async (database) => {
      const port = await freePort()
      const worker = spawnWorker({
        ...WEBHOOK_ENV,
        DATABASE_URL: databaseUrl(database),
        REDIS_URL: process.env["TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379",
        IMAGE_STREAM: randomName("shum:test:outage"),
        WORKER_PORT: String(port)
      })
      const base = `http://127.0.0.1:${port}`
      await waitFor(
        "the worker's /ready",
        () =>
          fetch(`${base}/ready`).then(
            (r) => r.status === 200,
            () => false
          ),
        60_000
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${worker.output().slice(-3000)}`)
      })
      return {
        metrics: `${base}/metrics`,
        running: () => worker.child.exitCode === null && worker.child.signalCode === null,
        output: worker.output,
        stop: async () => {
          killQuietly(worker)
          await worker.exited
        }
      }
    }
  },
  "a server with no Redis (both in process)": {
    start: async (database) => {
      const port = await freePort()
      const base = `http://127.0.0.1:${port}`
      const server = startServerProcess({
        ...WEBHOOK_ENV,
        APP_ENV: "test",
        ENABLE_METRICS_IN_TESTS: "true",
        JWT_SECRET_KEY: TEST_SECRET,
        DATABASE_URL: databaseUrl(database),
        HOST: "127.0.0.1",
        PORT: String(port),
        LOG_FORMAT_JSON: "true",
        LOG_LEVEL: "INFO"
      })
      await waitReady(server, base)
      return {
        metrics: `${base}/metrics`,
        running: () => server.running,
        output: () => server.output,
        stop: () => server.kill()
      }
    }
  }
}

const metricValue = (text: string, series: string) =>
  Number(
    text
      .split("\n")
      .find((line) => line.startsWith(`${series} `))
      ?.split(" ")[1] ?? Number.NaN
  )

describe("webhook delivery and the hold sweep while PostgreSQL refuses connections", () => {
  for (const [name, target] of Object.entries(TARGETS)) {
    it(`${name}: nothing lost, every hold swept, alive throughout, and it says so`, async () => {
      const database = randomName("shum_fault_out_")
      await withPgClient(ADMIN_URL, (c) => c.query(`CREATE DATABASE ${database}`))
      const query = <R extends Record<string, unknown>>(text: string, values: Array<unknown> = []) =>
        withPgClient(databaseUrl(database), (c) => c.query<R>(text, values)).then((r) => r.rows)
      const allow = (on: boolean) =>
        withPgClient(ADMIN_URL, (c) => c.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS ${on}`))
      const terminate = () =>
        withPgClient(ADMIN_URL, (c) =>
          c.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
            [database]
          )
        )
      healthy = false
      answered.length = 0
      const proc = await target.start(database)
      try {
        const cipher = makeCipher(Option.some(Redacted.make(KEY)))
        await query(`INSERT INTO webhook_subscriptions (url, events, secret) VALUES ($1, '{booking.*,hold.*}', $2)`, [
          `http://127.0.0.1:${receiverPort}/hook`,
          cipher.encrypt(generateSecret())
        ])
        const [room] = await query<{ room: number; user: number }>(`
          WITH co AS (INSERT INTO countries (name, iso_code) VALUES ('Сбой', 'XO') RETURNING id),
          ci AS (INSERT INTO cities (name, country_id) SELECT 'Сбойск', id FROM co RETURNING id),
          h AS (INSERT INTO hotels (title, city_id, address) SELECT 'Отель', id, 'ул. 1' FROM ci RETURNING id),
          r AS (INSERT INTO rooms (hotel_id, title, price, quantity) SELECT id, 'Номер', 100, 10 FROM h RETURNING id),
          u AS (INSERT INTO users (email) VALUES ('outage@example.com') RETURNING id)
          SELECT r.id AS room, u.id AS "user" FROM r, u`)
        // events the receiver refuses (503) until after the outage: pending when the database goes
        const events: Array<string> = []
        for (let i = 1; i <= 6; i++) {
          const eventId = randomUUID()
          events.push(eventId)
          await query(
            `INSERT INTO outbox_events (event_id, type, entity, hotel_id, data)
             VALUES ($1, 'booking.created', $2, 1, jsonb_build_object('id', $3::int, 'hotel_id', 1))`,
            [eventId, `booking:${i}`, i]
          )
        }
        await waitFor("the first refused attempts", async () => answered.length >= 6, 20_000)
        // holds that expire 2 s from now: while the database is gone
        const holds = await query<{ id: number }>(
          `INSERT INTO holds (user_id, room_id, date_from, date_to, price, expires_at)
           SELECT $1, $2, CURRENT_DATE + i, CURRENT_DATE + i + 1, 100, now() + interval '2 seconds'
           FROM generate_series(1, 4) i RETURNING id`,
          [room!.user, room!.room]
        )

        // the outage: no connection, every existing one cut; longer than the holds have left
        await allow(false)
        await terminate()
        const outageStarted = Date.now()
        try {
          await waitFor(
            "the failed rounds logged",
            async () =>
              proc.output().includes("webhook dispatch round failed") && proc.output().includes("hold sweep failed"),
            30_000
          )
          healthy = true
          await sleep(Math.max(0, 6_000 - (Date.now() - outageStarted)))
          expect(proc.running(), "the process alive during the outage").toBe(true)
        } finally {
          await allow(true)
        }

        // back by itself: every event delivered, every hold swept and its event delivered
        await waitFor(
          "every event delivered",
          async () =>
            (
              await query<{ n: number }>(
                `SELECT count(*)::int AS n FROM webhook_deliveries WHERE status <> 'delivered'`
              )
            )[0]!.n === 0 &&
            (await query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox_events WHERE fanned_out_at IS NULL`))[0]!
              .n === 0 &&
            (await query<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_deliveries`))[0]!.n ===
              events.length + holds.length,
          60_000
        ).catch((error: unknown) => {
          throw new Error(`${String(error)}\n${proc.output().slice(-3000)}`)
        })
        const statuses = await query<{ status: string }>(`SELECT DISTINCT status FROM holds`)
        expect(statuses).toEqual([{ status: "expired" }])
        const expiredEvents = await query<{ event_id: string }>(
          `SELECT event_id::text FROM outbox_events WHERE type = 'hold.expired'`
        )
        expect(expiredEvents.length).toBe(holds.length)
        const delivered = new Set(answered.filter((a) => a.status === 200).map((a) => a.id))
        for (const id of [...events, ...expiredEvents.map((e) => e.event_id)]) {
          expect(delivered.has(id), `event ${id} answered 200`).toBe(true)
        }
        expect(proc.running(), "the process alive after").toBe(true)
        const metrics = await (await fetch(proc.metrics)).text()
        expect(metricValue(metrics, 'webhook_deliveries_total{outcome="delivered"}')).toBeGreaterThanOrEqual(
          events.length + holds.length
        )
        expect(metricValue(metrics, 'webhook_deliveries_total{outcome="failed"}')).toBeGreaterThanOrEqual(6)
        expect(metricValue(metrics, "holds_expired_total")).toBe(holds.length)
      } finally {
        await proc.stop()
        await allow(true).catch(() => undefined)
        await withPgClient(ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
      }
    })
  }
})

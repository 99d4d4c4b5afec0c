/**
 * docs/decisions.md D16 under a fault: the worker process SIGKILLed while a webhook request is in flight
 * loses nothing — its claim lapses after `WEBHOOK_LEASE_SECONDS` and the next worker sends the same event
 * (the same `webhook-id`) again; the receiver then has it, and the delivery is `delivered`.
 */
import { randomName, databaseUrl, withPgClient } from "@shum/infra/Testing"
import { generateSecret, makeCipher, verify } from "@shum/infra/WebhookSigning"
import { Option, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort, waitFor } from "./FaultSupport.js"
import { killQuietly, spawnWorker, type WorkerProcess } from "../../worker/test/WorkerProcess.js"

const KEY = "webhook-fault-test-key-0123456789"
const ADMIN_URL = databaseUrl("postgres")
const database = randomName("shum_fault_wh_")
const query = <R extends Record<string, unknown>>(text: string, values: Array<unknown> = []) =>
  withPgClient(databaseUrl(database), (c) => c.query<R>(text, values)).then((r) => r.rows)

interface Request {
  readonly headers: IncomingHttpHeaders
  readonly body: string
}
const received: Array<Request> = []
const hanging: Array<ServerResponse> = []
let answer: "hang" | 200 = "hang"
const receiver = createServer((request, response) => {
  let body = ""
  request.on("data", (chunk: Buffer) => (body += chunk.toString()))
  request.on("end", () => {
    received.push({ headers: request.headers, body })
    if (answer === "hang") hanging.push(response)
    else response.writeHead(200).end()
  })
})
let receiverPort = 0
const workers: Array<WorkerProcess> = []

const startWorker = async () => {
  const port = await freePort()
  const worker = spawnWorker({
    DATABASE_URL: databaseUrl(database),
    REDIS_URL: process.env["TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379",
    IMAGE_STREAM: randomName("shum:test:wh"),
    WORKER_PORT: String(port),
    WEBHOOK_SECRET_KEY: KEY,
    WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
    WEBHOOK_TIMEOUT_SECONDS: "2",
    WEBHOOK_LEASE_SECONDS: "3",
    WEBHOOK_RETRY_BASE_SECONDS: "1",
    WEBHOOK_POLL_MS: "50"
  })
  workers.push(worker)
  await waitFor(
    "the worker's /ready",
    () =>
      fetch(`http://127.0.0.1:${port}/ready`).then(
        (r) => r.status === 200,
        () => false
      ),
    60_000
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${worker.output().slice(-3000)}`)
  })
  return worker
}

beforeAll(async () => {
  await withPgClient(ADMIN_URL, (c) => c.query(`CREATE DATABASE ${database}`))
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
  receiverPort = (receiver.address() as AddressInfo).port
})

afterAll(async () => {
  workers.forEach(killQuietly)
  for (const response of hanging) response.destroy()
  receiver.closeAllConnections()
  receiver.close()
  await withPgClient(ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
})

describe("webhook delivery under a fault", () => {
  it("the worker SIGKILLed mid-delivery: the next worker sends the same event again; nothing is lost", async () => {
    const first = await startWorker() // migrates the database
    const secret = generateSecret()
    const cipher = makeCipher(Option.some(Redacted.make(KEY)))
    const [subscription] = await query<{ id: number }>(
      `INSERT INTO webhook_subscriptions (url, events, secret) VALUES ($1, '{booking.*}', $2) RETURNING id`,
      [`http://127.0.0.1:${receiverPort}/hook`, cipher.encrypt(secret)]
    )
    const eventId = randomUUID()
    await query(
      `INSERT INTO outbox_events (event_id, type, entity, hotel_id, data)
       VALUES ($1, 'booking.created', 'booking:1', 1, '{"id": 1, "hotel_id": 1}')`,
      [eventId]
    )
    await waitFor("the first request", async () => received.length === 1, 20_000)
    first.child.kill("SIGKILL")
    await first.exited
    answer = 200
    for (const response of hanging) response.destroy()

    await startWorker()
    await waitFor("the event sent again", async () => received.length >= 2, 30_000)
    await waitFor(
      "the delivery recorded",
      async () =>
        (
          await query<{ status: string }>(`SELECT status FROM webhook_deliveries WHERE subscription_id = $1`, [
            subscription!.id
          ])
        )[0]?.status === "delivered",
      10_000
    )
    expect(received.map((r) => r.headers["webhook-id"])).toEqual([eventId, eventId])
    const last = received[received.length - 1]!
    expect(
      verify(
        secret,
        {
          id: String(last.headers["webhook-id"]),
          timestamp: String(last.headers["webhook-timestamp"]),
          signature: String(last.headers["webhook-signature"])
        },
        last.body
      )
    ).toBe(true)
    const [final] = await query<{ status: string; attempts: number }>(
      `SELECT status, attempts FROM webhook_deliveries WHERE subscription_id = $1`,
      [subscription!.id]
    )
    expect(final).toEqual({ status: "delivered", attempts: 2 })
  })
})

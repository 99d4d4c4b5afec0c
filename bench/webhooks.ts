/**
 * Webhooks benchmark (issue 20; docs/decisions.md D16): bookings as fast as the machine takes them — a closed
 * loop of `BENCH_CONCURRENCY` clients sending `POST /bookings` for random stays over many room types, for
 * `BENCH_SECONDS` — twice, each on a database of its own: without subscriptions, then with two subscriptions
 * to `booking.*` whose receivers (a local HTTP server of this process) answer 200 at once. The dispatcher runs
 * in the server's process, as in the embedded default (`Webhooks/WebhooksWorker.ts`), in both runs.
 *
 * Prints per run the bookings/s and latencies, and for the run with subscriptions the outbox lag — the age of
 * the oldest event not yet delivered to every subscription, sampled every 200 ms — max and p99 over the run,
 * the time to drain after it, the deliveries made, and the drop in booking throughput against the run
 * without. Targets: lag < 2 s, drop ≤ 15 %.
 *
 *   npx tsx --conditions=@shum/source bench/webhooks.ts
 *
 * Needs the PostgreSQL of the tests (TEST_DATABASE_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres);
 * it creates a database per run and drops it. Knobs: BENCH_SECONDS (per run, 20), BENCH_POOL (connections,
 * 20), BENCH_CONCURRENCY (64), BENCH_ROOMS (200 room types), WEBHOOK_CONCURRENCY (the dispatcher's, 16).
 * About a minute with the defaults.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as SqlClient from "@effect/sql/SqlClient"
import { AppConfig } from "@shum/infra/Config"
import * as Database from "@shum/infra/Database"
import { freshDatabase } from "@shum/infra/Testing"
import { makeCipher, generateSecret } from "@shum/infra/WebhookSigning"
import { HttpLive } from "@shum/server/HttpLive"
import { InProcessServicesLive, ServicesLive } from "@shum/server/Services"
import { InProcessWebhookDispatcherLive } from "@shum/server/Webhooks/WebhooksWorker"
import { ConfigProvider, Effect, Fiber, Layer, Logger, LogLevel, Option, Random, Redacted } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { day, knob, percentile, seedCity, seedUsers } from "./inProcessServer.js"

const SECONDS = knob("BENCH_SECONDS", 20)
const POOL = knob("BENCH_POOL", 20)
const CONCURRENCY = knob("BENCH_CONCURRENCY", 64)
const ROOMS = knob("BENCH_ROOMS", 200)
const USERS = 200
const JWT = "bench-secret-key-bench-secret-key-bench"
const LAG_TARGET_S = 2
const DROP_TARGET = 0.15

/** `inProcessServer` (bench/inProcessServer.ts) with the in-process dispatcher, allowed to reach loopback. */
const serverWithDispatcher = Layer.unwrapScoped(
  Effect.map(freshDatabase, (connection) =>
    InProcessWebhookDispatcherLive.pipe(
      Layer.provideMerge(HttpLive),
      Layer.provideMerge(ServicesLive),
      Layer.provide(InProcessServicesLive),
      Layer.provideMerge(Database.layer(connection, { poolSize: POOL })),
      Layer.provideMerge(NodeHttpServer.layerTest),
      Layer.provideMerge(AppConfig.Default),
      Layer.provide(Logger.minimumLogLevel(LogLevel.Error)),
      Layer.provide(
        Layer.setConfigProvider(
          ConfigProvider.fromMap(
            new Map([
              ["APP_ENV", "test"],
              ["JWT_SECRET_KEY", JWT],
              ["DATABASE_URL", "postgres://unused"],
              ["WEBHOOK_ALLOWED_HOSTS", "127.0.0.1"],
              ["WEBHOOK_CONCURRENCY", process.env["WEBHOOK_CONCURRENCY"] ?? "16"]
            ])
          )
        )
      )
    )
  )
)

/** The receivers: one local server, a path per subscription, every request answered 200; counts them. */
const receiver = Effect.acquireRelease(
  Effect.async<{ readonly port: number; readonly received: () => number; readonly close: () => void }>((resume) => {
    let received = 0
    const server = createServer((request, response) => {
      request.resume()
      request.on("end", () => {
        received++
        response.writeHead(204).end()
      })
    })
    server.keepAliveTimeout = 60_000
    server.listen(0, "127.0.0.1", () =>
      resume(
        Effect.succeed({
          port: (server.address() as AddressInfo).port,
          received: () => received,
          close: () => {
            server.closeAllConnections()
            server.close()
          }
        })
      )
    )
  }),
  (r) => Effect.sync(() => r.close())
)

/** Seconds since the oldest event still waiting: not fanned out, or pending for an enabled subscription. */
const outboxLag = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ lag: number }>`
    SELECT COALESCE(EXTRACT(EPOCH FROM now() - LEAST(
      (SELECT min(created_at) FROM outbox_events WHERE fanned_out_at IS NULL),
      (SELECT min(e.created_at) FROM webhook_deliveries d
         JOIN webhook_subscriptions s ON s.id = d.subscription_id AND s.enabled
         JOIN outbox_events e ON e.id = d.event_id
       WHERE d.status = 'pending'))), 0)::float8 AS lag`.pipe(Effect.map((rows) => rows[0]?.lag ?? 0))
).pipe(Effect.orDie)

interface Run {
  readonly bookings: number
  readonly failed: number
  readonly seconds: number
  readonly latencies: ReadonlyArray<number>
  readonly lags: ReadonlyArray<number>
  readonly drainSeconds: number
  readonly delivered: number
  readonly received: number
}

const run = (subscriptions: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const http = yield* HttpClient.HttpClient
    const hooks = yield* receiver
    yield* seedCity
    yield* sql`INSERT INTO hotels (title, city_id, address)
               SELECT 'Отель ' || i, 1, 'ул. Тестовая, ' || i FROM generate_series(1, ${ROOMS}) AS i`
    const rooms = (yield* sql<{ id: number }>`
      INSERT INTO rooms (hotel_id, title, price, quantity)
      SELECT i, 'Номер ' || i, 1000, 1000000 FROM generate_series(1, ${ROOMS}) AS i RETURNING id`).map((r) => r.id)
    const { tokens } = yield* seedUsers(USERS)
    const cipher = makeCipher(Option.some(Redacted.make(JWT)))
    for (let i = 1; i <= subscriptions; i++) {
      yield* sql`INSERT INTO webhook_subscriptions (url, events, secret)
                 VALUES (${`http://127.0.0.1:${hooks.port}/hook-${i}`}, '{booking.*}', ${cipher.encrypt(generateSecret())})`
    }

    const latencies: Array<number> = []
    let bookings = 0
    let failed = 0
    const started = performance.now()
    const deadline = started + SECONDS * 1000
    const client = Effect.gen(function* () {
      while (performance.now() < deadline) {
        const from = yield* Random.nextIntBetween(1, 300)
        const nights = yield* Random.nextIntBetween(1, 4)
        const body = {
          room_id: rooms[yield* Random.nextIntBetween(0, rooms.length)]!,
          date_from: day(from),
          date_to: day(from + nights)
        }
        const token = tokens[yield* Random.nextIntBetween(0, tokens.length)]!
        const t0 = performance.now()
        const response = yield* http.execute(
          HttpClientRequest.post("/bookings").pipe(
            HttpClientRequest.bearerToken(token),
            HttpClientRequest.bodyUnsafeJson(body)
          )
        )
        yield* response.text
        latencies.push(performance.now() - t0)
        if (response.status === 200) bookings++
        else failed++
      }
    }).pipe(Effect.scoped, Effect.orDie)
    const lags: Array<number> = []
    const sampler = Effect.gen(function* () {
      for (;;) {
        lags.push(yield* outboxLag)
        yield* Effect.sleep("200 millis")
      }
    })
    const sampling = yield* Effect.fork(sampler)
    yield* Effect.all(
      Array.from({ length: CONCURRENCY }, () => client),
      { concurrency: "unbounded", discard: true }
    )
    const seconds = (performance.now() - started) / 1000
    yield* Fiber.interrupt(sampling)
    const drainStarted = performance.now()
    while ((yield* outboxLag) > 0 && performance.now() - drainStarted < 60_000) yield* Effect.sleep("100 millis")
    const drainSeconds = (performance.now() - drainStarted) / 1000
    const [delivered] = yield* sql<{ n: number }>`
      SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'delivered'`
    return {
      bookings,
      failed,
      seconds,
      latencies: latencies.sort((a, b) => a - b),
      lags: lags.sort((a, b) => a - b),
      drainSeconds,
      delivered: delivered!.n,
      received: hooks.received()
    } satisfies Run
  }).pipe(Effect.scoped, Effect.provide(serverWithDispatcher))

const describe = (name: string, r: Run) =>
  [
    `${name}: ${r.bookings} bookings in ${r.seconds.toFixed(1)} s (${r.failed} other answers)`,
    `  bookings/s ${(r.bookings / r.seconds).toFixed(1)}, latency p50 ${percentile(r.latencies, 50).toFixed(1)} ms, ` +
      `p99 ${percentile(r.latencies, 99).toFixed(1)} ms`
  ].join("\n")

const program = Effect.gen(function* () {
  console.log(`${SECONDS} s per run, pool ${POOL}, client concurrency ${CONCURRENCY}, ${ROOMS} room types`)
  const without = yield* run(0)
  console.log(describe("without subscriptions", without))
  const withSubs = yield* run(2)
  console.log(describe("with two subscriptions to booking.*", withSubs))
  const lagMax = withSubs.lags.at(-1) ?? 0
  const lagP99 = percentile(withSubs.lags, 99)
  const rate = (r: Run) => r.bookings / r.seconds
  const drop = 1 - rate(withSubs) / rate(without)
  console.log(
    [
      `  outbox lag over the run: max ${lagMax.toFixed(2)} s, p99 ${lagP99.toFixed(2)} s (${withSubs.lags.length} samples); ` +
        `drained ${withSubs.drainSeconds.toFixed(1)} s after it`,
      `  deliveries delivered ${withSubs.delivered} (expected ${2 * withSubs.bookings}), requests received ${withSubs.received}`,
      `throughput drop with subscriptions: ${(drop * 100).toFixed(1)} % (target ≤ ${DROP_TARGET * 100} %) — ${drop <= DROP_TARGET ? "met" : "MISSED"}`,
      `outbox lag max: ${lagMax.toFixed(2)} s (target < ${LAG_TARGET_S} s) — ${lagMax < LAG_TARGET_S ? "met" : "MISSED"}`
    ].join("\n")
  )
  if (withSubs.delivered !== 2 * withSubs.bookings) {
    console.log("FAILED: not every booking's event was delivered to both subscriptions")
    process.exitCode = 1
  }
})

Effect.runPromise(program).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})

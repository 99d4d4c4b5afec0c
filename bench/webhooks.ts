/**
 * Webhooks benchmark (issue 20; docs/decisions.md D16): bookings as fast as the machine takes them — a closed
 * loop of `BENCH_CONCURRENCY` clients sending `POST /bookings` for random stays over many room types, for
 * `BENCH_SECONDS` — twice, each on a database of its own: without subscriptions, then with two subscriptions
 * to `booking.*` whose receivers answer 204 at once. Production's shape, one process each: the server in
 * this process (without the in-process dispatcher, as with Redis configured), the dispatcher in a child
 * process as the worker runs it (`webhooksDispatcher.ts`), the load from another (`webhooksClient.ts`) and the
 * receivers from a third (`webhooksReceiver.ts`) — so the server's CPU is the server's. The dispatcher runs in
 * both runs (idle in the first).
 *
 * Prints per run the bookings/s, latencies and CPU per booking of the server's process, and for the run with
 * subscriptions the outbox lag — the age of the oldest event not yet delivered to every subscription, sampled
 * every 200 ms — max and p99 over the run, the time to drain after it, the deliveries made and the
 * dispatcher's CPU per delivery, and the drop in booking throughput against the run without. Targets:
 * lag < 2 s, drop ≤ 15 %.
 *
 *   npx tsx --conditions=@shum/source bench/webhooks.ts
 *
 * Needs the PostgreSQL of the tests (TEST_DATABASE_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres);
 * it creates a database per run and drops it. Knobs: BENCH_SECONDS (per run, 20), BENCH_POOL (the server's
 * connections, 20), BENCH_CONCURRENCY (64), BENCH_ROOMS (200 room types), WEBHOOK_CONCURRENCY (the
 * dispatcher's, the worker's default 64), DB_POOL_SIZE (the dispatcher's connections, the worker's default 10). About 1.5 minutes
 * with the defaults.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as SqlClient from "@effect/sql/SqlClient"
import { databaseUrl } from "@shum/infra/Testing"
import { makeCipher, generateSecret } from "@shum/infra/WebhookSigning"
import { Effect, Fiber, Option, Redacted } from "effect"
import { loadavg } from "node:os"
import { child } from "./webhooksChild.js"
import type { ClientInput, ClientOutput } from "./webhooksClient.js"
import type { DispatcherOutput } from "./webhooksDispatcher.js"
import type { ReceiverOutput } from "./webhooksReceiver.js"
import { inProcessServer, knob, percentile, seedCity, seedUsers } from "./inProcessServer.js"

const SECONDS = knob("BENCH_SECONDS", 20)
const POOL = knob("BENCH_POOL", 20)
const CONCURRENCY = knob("BENCH_CONCURRENCY", 64)
const ROOMS = knob("BENCH_ROOMS", 200)
const USERS = 200
const JWT = "bench-secret-key-bench-secret-key-bench"
const LAG_TARGET_S = 2
const DROP_TARGET = 0.15

/** The server in this process (bench/inProcessServer.ts): no dispatcher in it. */
const server = inProcessServer(POOL)

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
  /** CPU seconds of the server's process (this one) during the load, of the dispatcher's over the whole run. */
  readonly serverCpu: number
  readonly dispatcherCpu: number
  /** The load average (1 min) at the run's end. */
  readonly load: number
}

const run = (subscriptions: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const address = (yield* HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("the server listens on no TCP port")
    const [database] = yield* sql<{ name: string }>`SELECT current_database() AS name`
    yield* seedCity
    yield* sql`INSERT INTO hotels (title, city_id, address)
               SELECT 'Отель ' || i, 1, 'ул. Тестовая, ' || i FROM generate_series(1, ${ROOMS}) AS i`
    const rooms = (yield* sql<{ id: number }>`
      INSERT INTO rooms (hotel_id, title, price, quantity)
      SELECT i, 'Номер ' || i, 1000, 1000000 FROM generate_series(1, ${ROOMS}) AS i RETURNING id`).map((r) => r.id)
    const { tokens } = yield* seedUsers(USERS)
    const receiver = yield* child("webhooksReceiver.ts")
    const { port } = JSON.parse(yield* receiver.line()) as { port: number }
    const cipher = makeCipher(Option.some(Redacted.make(JWT)))
    for (let i = 1; i <= subscriptions; i++) {
      yield* sql`INSERT INTO webhook_subscriptions (url, events, secret)
                 VALUES (${`http://127.0.0.1:${port}/hook-${i}`}, '{booking.*}', ${cipher.encrypt(generateSecret())})`
    }
    const dispatcher = yield* child("webhooksDispatcher.ts", {
      BENCH_DATABASE_URL: databaseUrl(database!.name),
      JWT_SECRET_KEY: JWT,
      WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
      WEBHOOK_CONCURRENCY: process.env["WEBHOOK_CONCURRENCY"] ?? "64"
    })
    // the load starts once the dispatcher runs (its start-up is not the outbox's lag)
    yield* dispatcher.line()

    const lags: Array<number> = []
    const sampler = Effect.gen(function* () {
      for (;;) {
        lags.push(yield* outboxLag)
        yield* Effect.sleep("200 millis")
      }
    })
    const sampling = yield* Effect.fork(sampler)
    const host = address.hostname === "::" || address.hostname === "0.0.0.0" ? "127.0.0.1" : address.hostname
    const input: ClientInput = {
      base: `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`,
      tokens,
      rooms,
      concurrency: CONCURRENCY,
      seconds: SECONDS
    }
    const cpu0 = process.cpuUsage()
    const load = yield* Effect.flatMap(child("webhooksClient.ts", {}, input), (c) => c.finish<ClientOutput>())
    const cpu = process.cpuUsage(cpu0)
    yield* Fiber.interrupt(sampling)
    const drainStarted = performance.now()
    while ((yield* outboxLag) > 0 && performance.now() - drainStarted < 60_000) yield* Effect.sleep("100 millis")
    const drainSeconds = (performance.now() - drainStarted) / 1000
    const [delivered] = yield* sql<{ n: number }>`
      SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'delivered'`
    const dispatched = yield* dispatcher.finish<DispatcherOutput>()
    const received = yield* receiver.finish<ReceiverOutput>()
    return {
      bookings: load.bookings,
      failed: load.failed,
      seconds: load.seconds,
      latencies: [...load.latencies].sort((a, b) => a - b),
      lags: lags.sort((a, b) => a - b),
      drainSeconds,
      delivered: delivered!.n,
      received: received.received,
      serverCpu: (cpu.user + cpu.system) / 1e6,
      dispatcherCpu: dispatched.cpuSeconds,
      load: loadavg()[0]!
    } satisfies Run
  }).pipe(Effect.scoped, Effect.provide(server), Effect.orDie)

const describe = (name: string, r: Run) =>
  [
    `${name}: ${r.bookings} bookings in ${r.seconds.toFixed(1)} s (${r.failed} other answers)`,
    `  bookings/s ${(r.bookings / r.seconds).toFixed(1)}, latency p50 ${percentile(r.latencies, 50).toFixed(1)} ms, ` +
      `p99 ${percentile(r.latencies, 99).toFixed(1)} ms`,
    `  server CPU ${((r.serverCpu / Math.max(1, r.bookings)) * 1000).toFixed(2)} ms per booking ` +
      `(${(r.serverCpu / r.seconds).toFixed(2)} cores); dispatcher CPU ${r.dispatcherCpu.toFixed(1)} s` +
      (r.delivered > 0 ? ` (${((r.dispatcherCpu / r.delivered) * 1000).toFixed(2)} ms per delivery)` : "") +
      `; load average ${r.load.toFixed(2)}`
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

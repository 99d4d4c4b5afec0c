/**
 * The webhook dispatcher alone (issue 20; docs/decisions.md D16): `BENCH_EVENTS` (10,000) `booking.created`
 * events, each of its own booking, waiting in a new database's outbox for two subscriptions to `booking.*` —
 * then the dispatcher of `bench/webhooks.ts` (`webhooksDispatcher.ts`, a child process as the worker runs it)
 * and its receivers (`webhooksReceiver.ts`, another child) fan them out and deliver them all. Prints the time to
 * deliver them, the dispatcher's CPU per delivery, and PostgreSQL's commits and statements per delivery
 * (`pg_stat_database` of the database: `xact_commit`; statements counted only where `pg_stat_statements` is
 * loaded). What `bench/webhooks.ts` adds to it is the bookings sharing the machine.
 *
 *   npx tsx --conditions=@shum/source bench/webhooksDrain.ts
 *
 * Knobs: BENCH_EVENTS, WEBHOOK_CONCURRENCY (64, the worker's default), DB_POOL_SIZE (10), BENCH_NO_HTTP=1 (no requests: every delivery
 * answered 204 at once, the dispatcher's cost without the requests'); `BENCH_CPU_PROF=dir` profiles the
 * dispatcher's process (`node --cpu-prof`, read with `bench/profile.ts`).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Database from "@shum/infra/Database"
import { databaseUrl, freshDatabase } from "@shum/infra/Testing"
import { makeCipher, generateSecret } from "@shum/infra/WebhookSigning"
import { Effect, Layer, Logger, LogLevel, Option, Redacted } from "effect"
import { loadavg } from "node:os"
import { child } from "./webhooksChild.js"
import type { DispatcherOutput } from "./webhooksDispatcher.js"
import type { ReceiverOutput } from "./webhooksReceiver.js"
import { knob } from "./inProcessServer.js"

const EVENTS = knob("BENCH_EVENTS", 10_000)
const JWT = "bench-secret-key-bench-secret-key-bench"

const program = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const [database] = yield* sql<{ name: string }>`SELECT current_database() AS name`
  const receiver = yield* child("webhooksReceiver.ts")
  const { port } = JSON.parse(yield* receiver.line()) as { port: number }
  const cipher = makeCipher(Option.some(Redacted.make(JWT)))
  for (let i = 1; i <= 2; i++) {
    yield* sql`INSERT INTO webhook_subscriptions (url, events, secret)
               VALUES (${`http://127.0.0.1:${port}/hook-${i}`}, '{booking.*}', ${cipher.encrypt(generateSecret())})`
  }
  yield* sql`
    INSERT INTO outbox_events (event_id, type, entity, hotel_id, data)
    SELECT gen_random_uuid(), 'booking.created', 'booking:' || i, 1 + i % 200,
      jsonb_build_object('id', i, 'hotel_id', 1 + i % 200, 'room_id', 1 + i % 200, 'user_id', 1 + i % 50,
        'date_from', '2027-01-01', 'date_to', '2027-01-03', 'price', 2000)
    FROM generate_series(1, ${EVENTS}) AS i`
  yield* sql`ANALYZE`
  const stats = sql<{ commits: number }>`
    SELECT xact_commit::float8 AS commits FROM pg_stat_database WHERE datname = current_database()`
  const profileDir = process.env["BENCH_CPU_PROF"]
  const dispatcher = yield* child(
    "webhooksDispatcher.ts",
    {
      BENCH_DATABASE_URL: databaseUrl(database!.name),
      JWT_SECRET_KEY: JWT,
      WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
      WEBHOOK_CONCURRENCY: process.env["WEBHOOK_CONCURRENCY"] ?? "64"
    },
    undefined,
    profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]
  )
  yield* dispatcher.line()
  yield* Effect.sleep("700 millis") // the statistics collector's flush
  const [before] = yield* stats
  const started = performance.now()
  for (;;) {
    const [row] = yield* sql<{ n: number }>`
      SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'delivered'`
    if (row!.n >= 2 * EVENTS || performance.now() - started > 300_000) break
    yield* Effect.sleep("50 millis")
  }
  const seconds = (performance.now() - started) / 1000
  const dispatched = yield* dispatcher.finish<DispatcherOutput>()
  const received = yield* receiver.finish<ReceiverOutput>()
  yield* Effect.sleep("700 millis")
  const [after] = yield* stats
  const deliveries = 2 * EVENTS
  const commits = after!.commits - before!.commits
  console.log(
    `${deliveries} deliveries in ${seconds.toFixed(2)} s: ${(deliveries / seconds).toFixed(0)}/s; ` +
      `dispatcher CPU ${dispatched.cpuSeconds.toFixed(2)} s (${((dispatched.cpuSeconds / deliveries) * 1000).toFixed(3)} ms per delivery); ` +
      `receiver ${((received.cpuSeconds / deliveries) * 1000).toFixed(3)} ms; ` +
      `commits ${commits} (${(commits / deliveries).toFixed(3)} per delivery, the bench's own polls included); ` +
      `received ${received.received}; load ${loadavg()[0]!.toFixed(2)}`
  )
})

const TestLayer = Layer.unwrapScoped(
  Effect.map(freshDatabase, (connection) => Database.layer(connection, { poolSize: 2 }))
).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Error)))

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(TestLayer), Effect.orDie)).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})

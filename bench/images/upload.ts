/**
 * Image pipeline benchmark (issue 7, D5): the real server uploads N images concurrently, each request
 * waiting for its variants as the API does, while image workers process them. Prints images/s overall and
 * per worker (with the mean processing time), and the upload time p50/p95/p99 (upload → variants written →
 * answer). Not part of `npm test`.
 *
 *   npm run bench:images
 *   BENCH_MODE=embedded npm run bench:images     # the in-process worker over the in-memory stream
 *
 * Needs the PostgreSQL and Redis of the tests (TEST_DATABASE_ADMIN_URL, TEST_REDIS_URL); it creates a
 * database, a key prefix and an image directory of its own and removes them. Knobs: BENCH_MODE (redis),
 * BENCH_IMAGES (200), BENCH_CONCURRENCY (16 uploads at a time), BENCH_WORKERS (2 worker processes, redis
 * mode), BENCH_WORKER_CONCURRENCY (2 jobs per worker), BENCH_WIDTH×BENCH_HEIGHT (2400×1600 JPEG).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as SqlClient from "@effect/sql/SqlClient"
import { AppConfig } from "@shum/infra/Config"
import * as Database from "@shum/infra/Database"
import { keys } from "@shum/infra/ImageJobs"
import { ImageJobsMemoryLive } from "@shum/infra/ImageJobsMemory"
import { Redis } from "@shum/infra/Redis"
import { databaseUrl, freshDatabase, randomName, REDIS_URL, redisConnection } from "@shum/infra/Testing"
import { Tokens } from "@shum/server/Auth/Tokens"
import { HttpLive } from "@shum/server/HttpLive"
import { EMBEDDED_WORKER_NAME, InProcessImageWorkerLive } from "@shum/server/Images/InProcessImageWorker"
import { InProcessServicesLive, RedisServicesLive, ServicesLive } from "@shum/server/Services"
import { ConfigProvider, Effect, HashMap, Layer, Logger, LogLevel, Option, Schedule } from "effect"
import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import sharp from "sharp"

const knob = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const MODE = process.env["BENCH_MODE"] === "embedded" ? "embedded" : "redis"
const IMAGES = knob("BENCH_IMAGES", 200)
const CONCURRENCY = knob("BENCH_CONCURRENCY", 16)
const WORKERS = MODE === "redis" ? knob("BENCH_WORKERS", 2) : 1
const WORKER_CONCURRENCY = knob("BENCH_WORKER_CONCURRENCY", 2)
const WIDTH = knob("BENCH_WIDTH", 2400)
const HEIGHT = knob("BENCH_HEIGHT", 1600)
const WORKER_MAIN = fileURLToPath(new URL("../../packages/worker/src/main.ts", import.meta.url))
const ROOT = fileURLToPath(new URL("../..", import.meta.url))

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

/** What the workers report: `image processed in N ms`, per worker name. */
const processed = new Map<string, Array<number>>()
const record = (worker: string, ms: number) => processed.set(worker, [...(processed.get(worker) ?? []), ms])
const PROCESSED = /^image processed in (\d+) ms$/

/** The in-process worker's lines are counted; warnings and errors are shown; the rest (access log) is not. */
const watchLogs = Logger.replace(
  Logger.defaultLogger,
  Logger.make(({ annotations, logLevel, message }) => {
    const text = (Array.isArray(message) ? message : [message]).join(" ")
    const match = PROCESSED.exec(text)
    if (match !== null)
      record(String(Option.getOrElse(HashMap.get(annotations, "worker"), () => "?")), Number(match[1]))
    else if (LogLevel.greaterThanEqual(logLevel, LogLevel.Warning)) console.error(`${logLevel.label}: ${text}`)
  })
)

const spawnWorker = (name: string, env: Record<string, string>) => {
  const child = spawn(process.execPath, ["--conditions=@shum/source", "--import", "tsx", WORKER_MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      APP_ENV: "test",
      HOST: "127.0.0.1",
      WORKER_PORT: "0",
      LOG_FORMAT_JSON: "true",
      LOG_LEVEL: "info",
      WORKER_NAME: name,
      ...env
    },
    stdio: ["ignore", "pipe", "inherit"]
  })
  let buffered = ""
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString()
    const lines = buffered.split("\n")
    buffered = lines.pop() ?? ""
    for (const line of lines) {
      try {
        const entry = JSON.parse(line) as { message?: string; worker?: string }
        const match = PROCESSED.exec(entry.message ?? "")
        if (match !== null) record(entry.worker ?? name, Number(match[1]))
      } catch {
        // not a log line
      }
    }
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { name, child, exited }
}

const program = (dir: string, prefix: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const tokens = yield* Tokens
    const http = yield* HttpClient.HttpClient
    const database = yield* BenchDatabase
    yield* sql`INSERT INTO countries (name, iso_code) VALUES ('Россия', 'RU')`
    yield* sql`INSERT INTO cities (name, country_id) VALUES ('Москва', 1)`
    yield* sql`INSERT INTO hotels (title, city_id, address) VALUES ('Отель', 1, 'ул. Тестовая, 1')`
    const [admin] = yield* sql<{ id: number; email: string }>`
      INSERT INTO users (email, role) VALUES ('bench-admin@example.com', 'admin') RETURNING id, email`
    const token = (yield* tokens.issueAccess(admin!)).token

    const workers =
      MODE === "redis"
        ? Array.from({ length: WORKERS }, (_, i) =>
            spawnWorker(`bench-worker-${i + 1}`, {
              DATABASE_URL: databaseUrl(database),
              REDIS_URL,
              IMAGE_DIR: dir,
              IMAGE_STREAM: prefix,
              IMAGE_WORKER_CONCURRENCY: String(WORKER_CONCURRENCY)
            })
          )
        : []
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        for (const worker of workers) worker.child.kill("SIGTERM")
        await Promise.all(workers.map((w) => w.exited))
      })
    )
    // every worker beats before the clock starts
    yield* http.get("/health/detailed").pipe(
      Effect.flatMap((r) => r.json),
      Effect.map((body) => (body as { celery: { workers?: Array<string> } }).celery.workers ?? []),
      Effect.filterOrFail((names) =>
        MODE === "redis" ? workers.every((w) => names.includes(w.name)) : names.length > 0
      ),
      Effect.retry(Schedule.spaced("250 millis").pipe(Schedule.upTo("90 seconds"))),
      Effect.orDie
    )

    const images = yield* Effect.promise(() =>
      Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          // noise, so the JPEGs weigh what photos do
          sharp({
            create: {
              width: WIDTH,
              height: HEIGHT,
              channels: 3,
              background: "#000", // required by the types; the noise replaces it
              noise: { type: "gaussian", mean: 100 + 10 * i, sigma: 40 }
            }
          })
            .jpeg({ quality: 80 })
            .toBuffer()
        )
      )
    )
    console.log(
      `mode ${MODE}: ${IMAGES} uploads of ${WIDTH}×${HEIGHT} JPEG (${Math.round(images[0]!.length / 1024)} KB), ` +
        `${CONCURRENCY} at a time; ${WORKERS} worker(s) × ${WORKER_CONCURRENCY} jobs`
    )
    const upload = (i: number) =>
      Effect.gen(function* () {
        const form = new FormData()
        form.append("file", new Blob([images[i % images.length]!], { type: "image/jpeg" }), `bench-${i}.jpg`)
        const started = performance.now()
        const response = yield* http.execute(
          HttpClientRequest.post("/images/upload/1").pipe(
            HttpClientRequest.bearerToken(token),
            HttpClientRequest.bodyFormData(form)
          )
        )
        yield* response.text
        return { status: response.status, ms: performance.now() - started }
      }).pipe(Effect.scoped, Effect.orDie)
    const started = performance.now()
    const outcomes = yield* Effect.forEach(
      Array.from({ length: IMAGES }, (_, i) => i),
      upload,
      { concurrency: CONCURRENCY }
    )
    const seconds = (performance.now() - started) / 1000

    const latencies = outcomes.map((o) => o.ms).sort((a, b) => a - b)
    const statuses = new Map<number, number>()
    for (const o of outcomes) statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1)
    const done = statuses.get(200) ?? 0
    const lines = [
      `${IMAGES} uploads in ${seconds.toFixed(2)} s: ${[...statuses].map(([s, n]) => `${n}× ${s}`).join(", ")}`,
      `  images/s ${(done / seconds).toFixed(2)} overall`,
      ...[...processed]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(
          ([worker, ms]) =>
            `  ${worker}: ${ms.length} images, ${(ms.length / seconds).toFixed(2)} images/s, ` +
            `mean ${(ms.reduce((a, b) => a + b, 0) / ms.length).toFixed(0)} ms per image`
        ),
      `  upload time p50 ${percentile(latencies, 50).toFixed(0)} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms, ` +
        `p99 ${percentile(latencies, 99).toFixed(0)} ms, max ${latencies[latencies.length - 1]?.toFixed(0)} ms`
    ]
    console.log(lines.join("\n"))
    return done === IMAGES ? 0 : 1
  })

class BenchDatabase extends Effect.Tag("bench/BenchDatabase")<BenchDatabase, string>() {}

const main = Effect.gen(function* () {
  const dir = yield* Effect.acquireRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), "shum-bench-images-"))),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )
  const prefix = randomName("shum:bench:images:")
  const connection = yield* freshDatabase
  const env = {
    APP_ENV: "test",
    JWT_SECRET_KEY: "bench-secret-key-bench-secret-key-bench",
    DATABASE_URL: "postgres://unused",
    IMAGE_DIR: dir,
    IMAGE_STREAM: prefix,
    IMAGE_UPLOAD_WAIT_SECONDS: "120",
    MAX_IMAGE_FILE_SIZE_MB: "10"
  }
  const services = MODE === "redis" ? RedisServicesLive(redisConnection) : InProcessServicesLive
  const server = HttpLive.pipe(
    Layer.provideMerge(ServicesLive),
    Layer.provide(services),
    Layer.provide(ImageJobsMemoryLive),
    Layer.provideMerge(Database.layer(connection, { poolSize: 20 })),
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(AppConfig.Default)
  )
  const withWorker =
    MODE === "embedded"
      ? InProcessImageWorkerLive.pipe(Layer.provideMerge(server), Layer.provide(ImageJobsMemoryLive))
      : server
  if (MODE === "embedded") console.log(`in-process worker ${EMBEDDED_WORKER_NAME}`)
  const code = yield* program(dir, prefix).pipe(
    Effect.provide(withWorker),
    Effect.provideService(BenchDatabase, connection.name),
    Effect.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
  )
  if (MODE === "redis") {
    yield* Effect.flatMap(Redis, (redis) => {
      const k = keys(prefix)
      return redis.use((c) => c.del(k.stream, k.dead, k.delayed))
    }).pipe(Effect.provide(Redis.layer(redisConnection)), Effect.ignore)
  }
  return code
}).pipe(Effect.scoped, Effect.provide(Logger.minimumLogLevel(LogLevel.Info)), Effect.provide(watchLogs))

Effect.runPromise(main).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)

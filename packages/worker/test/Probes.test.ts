/**
 * The worker's probe server listens on `HOST:WORKER_PORT`, its own port: it serves `/live`, `/ready` and
 * `/metrics` there; when the port is taken the process exits non-zero with a log line that says which
 * address and why (it once logged an empty message). Real PostgreSQL and Redis.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Database from "@shum/infra/Database"
import { databaseUrl, freshDatabase, randomName, REDIS_URL } from "@shum/infra/Testing"
import { Effect, Layer, Schedule } from "effect"
import { createServer, type Server } from "node:net"
import { temporaryDir } from "./ImageFixtures.js"
import { spawnWorkerScoped } from "./WorkerProcess.js"

/** A port held by another listener for the scope's life. */
const takenPort = Effect.acquireRelease(
  Effect.async<Server>((resume) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
).pipe(Effect.map((server) => (server.address() as { port: number }).port))

const freePort = Effect.scoped(takenPort)

describe("the worker's probe server", () => {
  it.scopedLive(
    "serves /live, /ready and /metrics on WORKER_PORT; a taken port: exit 1, the address and the reason logged",
    () =>
      Effect.gen(function* () {
        const database = yield* freshDatabase
        yield* Layer.build(Database.layer(database, { poolSize: 1 })) // migrated
        const dir = yield* temporaryDir
        const env = (port: number) => ({
          DATABASE_URL: databaseUrl(database.name),
          REDIS_URL,
          IMAGE_DIR: dir,
          IMAGE_STREAM: randomName("shum:test:probes:"),
          WORKER_NAME: randomName("probes-"),
          PORT: "1", // the server's port is not the worker's
          WORKER_PORT: String(port)
        })

        const port = yield* freePort
        const worker = yield* spawnWorkerScoped(env(port))
        const get = (path: string) =>
          Effect.tryPromise(() =>
            fetch(`http://127.0.0.1:${port}${path}`).then(async (r) => [r.status, await r.text()])
          )
        // 503 until it consumes its job stream, then 200
        yield* get("/ready").pipe(
          Effect.filterOrFail(([status]) => status === 200),
          Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("60 seconds"))),
          Effect.orDieWith(() => new Error(`the worker's /ready\n${worker.output()}`))
        )
        assert.deepStrictEqual((yield* get("/live").pipe(Effect.orDie))[0], 200)
        assert.include((yield* get("/metrics").pipe(Effect.orDie))[1], "image_jobs_total")
        worker.child.kill("SIGTERM")
        assert.strictEqual((yield* Effect.promise(() => worker.exited)).code, 0, worker.output())

        const taken = yield* takenPort
        const blocked = yield* spawnWorkerScoped({ ...env(taken), LOG_FORMAT_JSON: "true" })
        const exit = yield* Effect.promise(() => blocked.exited)
        assert.strictEqual(exit.code, 1, blocked.output())
        const errors = blocked
          .output()
          .split("\n")
          .filter((line) => line.startsWith("{"))
          .map((line) => JSON.parse(line) as { level: string; message: string })
          .filter((entry) => entry.level === "ERROR")
        assert.deepStrictEqual(
          errors.map((e) => e.message),
          [
            `the worker's probe server cannot listen on 127.0.0.1:${taken} (HOST, WORKER_PORT): ` +
              `listen EADDRINUSE: address already in use 127.0.0.1:${taken}`
          ]
        )
      }),
    { timeout: 120_000 }
  )
})

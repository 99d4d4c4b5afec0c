/**
 * The benchmark suite (issue 10): `npm run bench`.
 *
 * 1. Builds the server (`npm run build`), creates the database `shum_bench` afresh, migrates it with the
 *    production migrator and seeds the fixed dataset of `seed.ts` through SQL.
 * 2. Starts the server as production runs it — one process, `npm run start:prod`'s `node` command and options,
 *    `APP_ENV=production`, the real PostgreSQL and Redis, rate limiting off, `BOOKING_HORIZON_DAYS` raised
 *    to three years (the booking scenario's arrivals), JSON logs at INFO into `bench/results/server.log` —
 *    and the two references: the floor (`floor/server.mjs`: `node:http` + `pg`, the same SQL) and the bare
 *    `HttpApi` server (`bare/server.mjs`: `GET /health` with no middleware, the same `node` options).
 * 3. Drives each scenario with `wrk` (32 connections, 2 threads, `wrk/replay.lua` replaying
 *    pre-generated requests): a warm-up, then the measured run. Per scenario: requests/s, latency
 *    p50/p99/max, socket errors, responses by status, and the CPU used meanwhile by the server, by
 *    PostgreSQL and by the whole machine (from `/proc`), and the server's RSS afterwards.
 * 4. After the booking scenarios, counts overbookings two ways (must be 0): `server/src/Testing.ts`'s
 *    invariants and a direct count of bookings per room and night against the quantity.
 * 5. Runs the service's scenarios a second time against the same process (pass 2) to see whether RSS
 *    keeps growing, then writes `bench/results/latest.md`, prints the table and issue 18's targets (ratios
 *    to the references of the same run), met or missed.
 *
 * Needs `wrk` (Debian's package; installed with apt-get when missing and root or sudo allows), PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and
 * Redis on 127.0.0.1:6379, like the tests. Knobs (environment):
 *   BENCH_DURATION (measured seconds per scenario, 15), BENCH_WARMUP (seconds, 5), BENCH_CONNECTIONS (32),
 *   BENCH_THREADS (wrk threads, 2), BENCH_PASSES (2), BENCH_SCENARIOS (comma-separated names, all),
 *   BENCH_POOL_SIZE (DB_POOL_SIZE of the server and the floor; unset = the server's default),
 *   BENCH_CPU_PROF=1 (server under `--cpu-prof`, profile in bench/results/profiles/), BENCH_NODE_ARGS (extra
 *   `node` options for the server, after those of `npm run start:prod`), BENCH_SKIP_BUILD=1,
 *   BENCH_OUTPUT (the report, bench/results/latest.md), BENCH_ADMIN_URL, BENCH_REDIS_URL.
 */
import { INVENTORY_CHECK_SQL } from "@shum/server/Testing"
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, freemem, loadavg, totalmem } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { processTicks } from "./processTicks.js"
import {
  CITIES,
  HOT_ROOM_ID,
  HOTELS,
  hotelsFiltered20Query,
  ROOMS,
  seed,
  seededRandom,
  USERS,
  userEmail,
  userTokens,
  PASSWORD
} from "./seed.js"
import { wrkReplay } from "./wrk.js"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const RESULTS = join(ROOT, "bench/results")
const WORK = join(RESULTS, "tmp")

const knob = (name: string, fallback: number) => {
  const raw = process.env[name]
  return raw === undefined || raw === "" ? fallback : Number(raw)
}
const DURATION = knob("BENCH_DURATION", 15)
const WARMUP = knob("BENCH_WARMUP", 5)
const CONNECTIONS = knob("BENCH_CONNECTIONS", 32)
const THREADS = knob("BENCH_THREADS", 2)
const PASSES = knob("BENCH_PASSES", 2)
const POOL_SIZE = process.env["BENCH_POOL_SIZE"] || undefined
const ONLY = (process.env["BENCH_SCENARIOS"] ?? "").split(",").filter((s) => s !== "")
const CPU_PROF = process.env["BENCH_CPU_PROF"] === "1"
/**
 * The server's `node` options as production starts it: those of `npm run start:prod` (the Dockerfile's
 * and the Deployment's command, which tests keep equal to it), then `BENCH_NODE_ARGS`, later ones winning.
 */
const PRODUCTION_NODE_ARGS = (() => {
  const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> })
    .scripts
  const [node, ...rest] = (scripts["start:prod"] ?? "").split(" ")
  if (node !== "node" || rest.at(-1) !== "packages/server/dist/main.js") {
    throw new Error(`start:prod is not "node [options] packages/server/dist/main.js": ${scripts["start:prod"]}`)
  }
  return rest.slice(0, -1)
})()
const NODE_ARGS = [
  ...PRODUCTION_NODE_ARGS,
  ...(process.env["BENCH_NODE_ARGS"] ?? "").split(" ").filter((s) => s !== "")
]
const OUTPUT = process.env["BENCH_OUTPUT"] ?? join(RESULTS, "latest.md")
const ADMIN_URL = process.env["BENCH_ADMIN_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres"
const REDIS_URL = process.env["BENCH_REDIS_URL"] ?? "redis://127.0.0.1:6379/14"
const DATABASE = "shum_bench"
const DATABASE_URL = (() => {
  const url = new URL(ADMIN_URL)
  url.pathname = `/${DATABASE}`
  return url.toString()
})()
const JWT_SECRET = "bench-secret-key-bench-secret-key-bench-0123"
const SERVICE_PORT = 18080
const FLOOR_PORT = 18081
const BARE_PORT = 18082
/** The booking scenario's arrivals: any day within three years (issue 18); the server's horizon is set to allow it. */
const BOOKING_WINDOW_DAYS = 3 * 365
const BENCH_HORIZON_DAYS = BOOKING_WINDOW_DAYS + 7

// --- helpers -----------------------------------------------------------------------------------------

const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const today = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`)
const day = (n: number) => new Date(today.getTime() + n * 86_400_000).toISOString().slice(0, 10)

/** A small deterministic generator, so every run replays the same requests. */
const random = seededRandom()
const pick = <A>(items: ReadonlyArray<A>) => items[random(items.length)]!

/** A command's output (stdout, else stderr: `wrk --version` prints there and exits 1). */
const command = (file: string, args: ReadonlyArray<string>) => {
  const run = spawnSync(file, args, { encoding: "utf8" })
  if (run.error !== undefined) return "unavailable"
  return (run.stdout.trim() === "" ? run.stderr : run.stdout).trim()
}

/** utime + stime of a process, in clock ticks (1/100 s); 0 once it is gone. */
const ticksOr0 = (pid: number): number => {
  try {
    return processTicks(pid)
  } catch {
    return 0
  }
}

/** Every PostgreSQL process (server and backends), pid → ticks. */
const postgresTicks = (): Map<number, number> => {
  const out = new Map<number, number>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))
      if (name.startsWith("postgres")) out.set(Number(entry), ticksOr0(Number(entry)))
    } catch {
      // gone meanwhile
    }
  }
  return out
}

/** [busy, total] ticks of the whole machine. */
const machineTicks = (): [number, number] => {
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number)
  const idle = cpu[3]! + cpu[4]!
  const total = cpu.reduce((a, b) => a + b, 0)
  return [total - idle, total]
}

const rssMb = (pid: number): number => {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return match ? Number(match[1]) / 1024 : Number.NaN
  } catch {
    return Number.NaN
  }
}

interface CpuSample {
  readonly server: number
  readonly postgres: Map<number, number>
  readonly machine: [number, number]
}
const cpuSample = (pid: number): CpuSample => ({
  server: ticksOr0(pid),
  postgres: postgresTicks(),
  machine: machineTicks()
})
/** CPU used between two samples, in % of one core (200% = both cores of this machine). */
const cpuUsed = (before: CpuSample, after: CpuSample, seconds: number) => {
  let postgres = 0
  for (const [pid, ticks] of after.postgres) postgres += ticks - (before.postgres.get(pid) ?? 0)
  const [busy0, total0] = before.machine
  const [busy1, total1] = after.machine
  return {
    server: (after.server - before.server) / seconds,
    postgres: postgres / seconds,
    machine: ((busy1 - busy0) / (total1 - total0)) * 100 * cpus().length
  }
}

const waitFor = async (url: string, what: string, child: ChildProcess, timeoutMs = 90_000) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`)
    try {
      const response = await fetch(url)
      if (response.ok) return
    } catch {
      // not listening yet
    }
    await sleep(250)
  }
  throw new Error(`${what} did not answer ${url} within ${timeoutMs / 1000} s`)
}

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once("exit", resolve))
  child.kill("SIGTERM")
  await Promise.race([exited, sleep(20_000)])
  if (child.exitCode === null) child.kill("SIGKILL")
}

// --- wrk -----------------------------------------------------------------------------------------------

interface WrkResult {
  readonly requests: number
  readonly duration_us: number
  readonly p50_us: number
  readonly p99_us: number
  readonly max_us: number
  readonly errors: {
    readonly connect: number
    readonly read: number
    readonly write: number
    readonly status: number
    readonly timeout: number
  }
  readonly statuses: Readonly<Record<string, number>>
}

const wrk = (url: string, file: string, seconds: number, countStatus: boolean): Promise<WrkResult> =>
  wrkReplay(url, file, { threads: THREADS, connections: CONNECTIONS, seconds, countStatus, timeout: "30s" })

// --- scenarios -----------------------------------------------------------------------------------------

interface Request {
  readonly method: string
  readonly path: string
  readonly token?: string
  readonly body?: unknown
}

interface Scenario {
  readonly name: string
  readonly title: string
  readonly server: "service" | "floor" | "bare"
  readonly requests: () => ReadonlyArray<Request>
  /** Count responses by status (the booking and login scenarios, where 409/401 mean something). */
  readonly countStatus: boolean
  /** The reference scenario (the floor, or the bare `HttpApi` server) this one's throughput is compared with. */
  readonly floor?: string
  readonly bookings?: boolean
}

const stay = (minDay: number, maxDay: number) => {
  const from = minDay + random(maxDay - minDay)
  return { date_from: day(from), date_to: day(from + 1 + random(7)) }
}

const hotelsPage10 = (): Array<Request> =>
  Array.from({ length: 2_000 }, () => ({ method: "GET", path: `/hotels?page=${1 + random(HOTELS / 10)}&per_page=10` }))

const hotelsFiltered20 = (): Array<Request> =>
  Array.from({ length: 2_000 }, (_, i) => ({ method: "GET", path: `/hotels?${hotelsFiltered20Query(i, random)}` }))

const roomsOfHotel = (): Array<Request> =>
  Array.from({ length: 2_000 }, () => ({ method: "GET", path: `/hotels/${1 + random(HOTELS)}/rooms` }))

const scenarios = (tokens: ReadonlyArray<string>): ReadonlyArray<Scenario> => {
  let nextToken = 0
  const token = () => tokens[nextToken++ % tokens.length]!
  return [
    {
      name: "bare-health",
      title: "bare HttpApi: GET /health",
      server: "bare",
      countStatus: false,
      requests: () => [{ method: "GET", path: "/health" }]
    },
    {
      name: "health",
      title: "GET /health",
      server: "service",
      countStatus: false,
      floor: "bare-health",
      requests: () => [{ method: "GET", path: "/health" }]
    },
    {
      name: "floor-hotels-10",
      title: "floor: GET /hotels (10)",
      server: "floor",
      countStatus: false,
      requests: hotelsPage10
    },
    {
      name: "hotels-10",
      title: "GET /hotels (page of 10)",
      server: "service",
      countStatus: false,
      floor: "floor-hotels-10",
      requests: hotelsPage10
    },
    {
      name: "floor-hotels-20",
      title: "floor: GET /hotels (20, filters)",
      server: "floor",
      countStatus: false,
      requests: hotelsFiltered20
    },
    {
      name: "hotels-20",
      title: "GET /hotels (page of 20, filters)",
      server: "service",
      countStatus: false,
      floor: "floor-hotels-20",
      requests: hotelsFiltered20
    },
    {
      name: "floor-rooms",
      title: "floor: GET /hotels/{id}/rooms",
      server: "floor",
      countStatus: false,
      requests: roomsOfHotel
    },
    {
      name: "rooms",
      title: "GET /hotels/{id}/rooms",
      server: "service",
      countStatus: false,
      floor: "floor-rooms",
      requests: roomsOfHotel
    },
    {
      name: "available-hotels",
      title: "GET /hotels/rooms/available",
      server: "service",
      countStatus: false,
      requests: () =>
        Array.from({ length: 2_000 }, () => {
          const params = new URLSearchParams({ ...stay(1, 83), city: pick(CITIES)[0], page: "1", per_page: "10" })
          return { method: "GET", path: `/hotels/rooms/available?${params.toString()}` }
        })
    },
    {
      name: "available-rooms",
      title: "GET /hotels/{id}/rooms/available",
      server: "service",
      countStatus: false,
      requests: () =>
        Array.from({ length: 2_000 }, () => {
          const params = new URLSearchParams(stay(1, 83))
          return { method: "GET", path: `/hotels/${1 + random(HOTELS)}/rooms/available?${params.toString()}` }
        })
    },
    {
      name: "book-many",
      title: "POST /bookings (random room, 1–7 nights within 3 years)",
      server: "service",
      countStatus: true,
      bookings: true,
      requests: () =>
        Array.from({ length: 20_000 }, () => ({
          method: "POST",
          path: "/bookings",
          token: token(),
          body: { room_id: 1 + random(ROOMS), ...stay(1, BOOKING_WINDOW_DAYS) }
        }))
    },
    {
      name: "book-hot",
      title: "POST /bookings (one hot room type)",
      server: "service",
      countStatus: true,
      bookings: true,
      requests: () =>
        Array.from({ length: 5_000 }, () => ({
          method: "POST",
          path: "/bookings",
          token: token(),
          body: { room_id: HOT_ROOM_ID, date_from: day(30), date_to: day(33) }
        }))
    },
    {
      name: "login",
      title: "POST /auth/login",
      server: "service",
      countStatus: true,
      requests: () =>
        Array.from({ length: USERS }, (_, i) => ({
          method: "POST",
          path: "/auth/login",
          body: { email: userEmail(i + 1), password: PASSWORD }
        }))
    }
  ]
}

const writeRequests = (scenario: Scenario) => {
  const file = join(WORK, `${scenario.name}.tsv`)
  const lines = scenario
    .requests()
    .map((r) => `${r.method}\t${r.path}\t${r.token ?? "-"}\t${r.body === undefined ? "-" : JSON.stringify(r.body)}`)
  writeFileSync(file, `${lines.join("\n")}\n`)
  return file
}

// --- results -------------------------------------------------------------------------------------------

interface Measured {
  readonly scenario: Scenario
  readonly pass: number
  readonly result: WrkResult
  readonly rps: number
  readonly cpu: { readonly server: number; readonly postgres: number; readonly machine: number }
  readonly rssMb: number
  /** The machine's 1-minute load average when the measured run ended (other helpers' work shows here). */
  readonly load1: number
}

/** Server (or floor) CPU time per request: comparable across runs even when the machine is contended. */
const cpuPerRequest = (m: Measured) => (m.rps > 0 ? ((m.cpu.server / 100 / m.rps) * 1e6).toFixed(0) : "–")
const ms = (us: number) => (us / 1000 < 10 ? (us / 1000).toFixed(2) : (us / 1000).toFixed(1))
const socketErrors = (r: WrkResult) => r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout
const statusText = (r: WrkResult, countStatus: boolean) => {
  if (!countStatus) return r.errors.status === 0 ? "0" : `${r.errors.status}`
  return Object.entries(r.statuses)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([status, n]) => `${n}×${status}`)
    .join(", ")
}
const fivexx = (r: WrkResult) =>
  Object.entries(r.statuses)
    .filter(([status]) => Number(status) >= 500)
    .reduce((sum, [, n]) => sum + n, 0)

interface Overbooking {
  readonly inventoryProblems: number
  readonly nightsAboveQuantity: number
  readonly bookings: number
}

const overbooking = async (client: pg.Client): Promise<Overbooking> => {
  const problems = await client.query(INVENTORY_CHECK_SQL)
  const [above] = (
    await client.query<{ n: number }>(`
      SELECT count(*)::int AS n FROM (
        SELECT b.room_id, b.date_from + i AS night, count(*) AS taken
        FROM bookings b CROSS JOIN LATERAL generate_series(0, b.date_to - b.date_from - 1) AS i
        GROUP BY 1, 2
      ) t JOIN rooms r ON r.id = t.room_id
      WHERE t.taken > r.quantity`)
  ).rows
  const [count] = (await client.query<{ n: number }>("SELECT count(*)::int AS n FROM bookings")).rows
  return { inventoryProblems: problems.rows.length, nightsAboveQuantity: above!.n, bookings: count!.n }
}

// --- the run -------------------------------------------------------------------------------------------

/**
 * `wrk` is Debian's package, not npm's: installed here when missing, as root (or with sudo) where apt-get is,
 * as `.ci/run` installs the test suite's tools; elsewhere the run stops, saying what to install.
 */
const ensureWrk = () => {
  if (command("wrk", ["--version"]) !== "unavailable") return
  const root = process.getuid?.() === 0
  const sudo = root ? [] : command("sudo", ["-n", "true"]) === "" ? ["sudo", "-n"] : undefined
  if (sudo === undefined || command("apt-get", ["--version"]) === "unavailable") {
    throw new Error(
      "wrk is not installed, and cannot be from here: install Debian's package `wrk` (apt-get install wrk)"
    )
  }
  log("wrk is missing: installing Debian's package `wrk`")
  const install = (args: ReadonlyArray<string>) => {
    const [file, ...rest] = [...sudo, "apt-get", ...args]
    const run = spawnSync(file!, rest, {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
    })
    if (run.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed (${run.status})`)
  }
  install(["update", "-qq"])
  install(["install", "-y", "-q", "--no-install-recommends", "wrk"])
  if (command("wrk", ["--version"]) === "unavailable") throw new Error("wrk is still missing after apt-get install")
}

const main = async () => {
  ensureWrk()
  mkdirSync(WORK, { recursive: true })
  const loadBefore = loadavg()
  const startedAt = new Date()

  if (process.env["BENCH_SKIP_BUILD"] !== "1") {
    log("building (npm run build)")
    const build = spawnSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "inherit" })
    if (build.status !== 0) throw new Error("build failed")
  }

  log(`database ${DATABASE}: create, migrate, seed`)
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`)
  await admin.query(`CREATE DATABASE ${DATABASE}`)
  const pgServerVersion = (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v
  await admin.end()

  const serverEnv = {
    ...process.env,
    APP_ENV: "production",
    HOST: "127.0.0.1",
    PORT: String(SERVICE_PORT),
    DATABASE_URL,
    REDIS_URL,
    JWT_SECRET_KEY: JWT_SECRET,
    RATE_LIMIT_ENABLED: "false",
    LOG_LEVEL: "INFO",
    LOG_FORMAT_JSON: "true",
    IMAGE_DIR: join(WORK, "images"),
    BOOKING_HORIZON_DAYS: String(BENCH_HORIZON_DAYS),
    ...(POOL_SIZE === undefined ? {} : { DB_POOL_SIZE: POOL_SIZE })
  }
  const serverLog = openSync(join(RESULTS, "server.log"), "w")
  const migrate = spawnSync(process.execPath, [join(ROOT, "packages/infra/dist/bin/migrate.js")], {
    cwd: ROOT,
    env: serverEnv,
    stdio: ["ignore", serverLog, serverLog]
  })
  if (migrate.status !== 0) throw new Error("migration failed: see bench/results/server.log")

  const db = new pg.Client({ connectionString: DATABASE_URL })
  await db.connect()
  const seeded = await seed(db)
  log(`seeded ${JSON.stringify(seeded)}`)

  const tokens = await userTokens(JWT_SECRET)

  for (const port of [SERVICE_PORT, FLOOR_PORT, BARE_PORT]) {
    const taken = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false
    )
    if (taken) throw new Error(`port ${port} is taken: stop what listens there first`)
  }
  const profileDir = join(RESULTS, "profiles")
  const nodeArgs = [...NODE_ARGS, ...(CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [])]
  const service = spawn(process.execPath, [...nodeArgs, join(ROOT, "packages/server/dist/main.js")], {
    cwd: ROOT,
    env: serverEnv,
    stdio: ["ignore", serverLog, serverLog]
  })
  const floor = spawn(process.execPath, [join(ROOT, "bench/floor/server.mjs")], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL, PORT: String(FLOOR_PORT), DB_POOL_SIZE: POOL_SIZE ?? "10" },
    stdio: ["ignore", "ignore", "inherit"]
  })
  // the bare HttpApi reference, with production's `node` options as the service
  const bare = spawn(process.execPath, [...NODE_ARGS, join(ROOT, "bench/bare/server.mjs")], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(BARE_PORT) },
    stdio: ["ignore", "ignore", "inherit"]
  })
  const servers = { service, floor, bare }
  const ports = { service: SERVICE_PORT, floor: FLOOR_PORT, bare: BARE_PORT }
  try {
    await waitFor(`http://127.0.0.1:${SERVICE_PORT}/ready`, "the server", service)
    await waitFor(`http://127.0.0.1:${FLOOR_PORT}/hotels`, "the floor", floor)
    await waitFor(`http://127.0.0.1:${BARE_PORT}/health`, "the bare HttpApi server", bare)
    log(
      `server pid ${service.pid}, floor pid ${floor.pid}, bare pid ${bare.pid}; ` +
        `RSS at start ${rssMb(service.pid!).toFixed(0)} MB`
    )
    const rssAtStart = rssMb(service.pid!)

    const all = scenarios(tokens).filter((s) => ONLY.length === 0 || ONLY.includes(s.name))
    const files = new Map(all.map((s) => [s.name, writeRequests(s)]))
    const measured: Array<Measured> = []
    const rssAfterPass: Array<number> = []
    let overbooked: Overbooking | undefined
    for (let pass = 1; pass <= PASSES; pass++) {
      for (const scenario of all) {
        if (pass > 1 && scenario.server !== "service") continue
        const port = ports[scenario.server]
        const pid = servers[scenario.server].pid!
        const url = `http://127.0.0.1:${port}`
        const file = files.get(scenario.name)!
        if (WARMUP > 0) await wrk(url, file, WARMUP, false)
        const before = cpuSample(pid)
        const result = await wrk(url, file, DURATION, scenario.countStatus)
        const seconds = result.duration_us / 1e6
        const cpu = cpuUsed(before, cpuSample(pid), seconds)
        const m: Measured = {
          scenario,
          pass,
          result,
          rps: result.requests / seconds,
          cpu,
          rssMb: rssMb(pid),
          load1: loadavg()[0]!
        }
        measured.push(m)
        log(
          `pass ${pass} ${scenario.name.padEnd(17)} ${m.rps.toFixed(0).padStart(6)} req/s  p50 ${ms(result.p50_us)} ms  ` +
            `p99 ${ms(result.p99_us)} ms  max ${ms(result.max_us)} ms  errors ${socketErrors(result)}  ` +
            `status ${statusText(result, scenario.countStatus)}  cpu server ${cpu.server.toFixed(0)}% pg ` +
            `${cpu.postgres.toFixed(0)}% machine ${cpu.machine.toFixed(0)}%  server ${cpuPerRequest(m)} µs/req  ` +
            `rss ${m.rssMb.toFixed(0)} MB  load ${m.load1.toFixed(2)}`
        )
        if (scenario.bookings) {
          overbooked = await overbooking(db)
          log(`overbooking: ${JSON.stringify(overbooked)}`)
        }
      }
      rssAfterPass.push(rssMb(service.pid!))
      log(`RSS after pass ${pass}: ${rssAfterPass[pass - 1]!.toFixed(0)} MB`)
    }
    const loadAfter = loadavg()
    await db.end()
    const reportInput: ReportInput = {
      startedAt,
      pgServerVersion,
      loadBefore,
      loadAfter,
      measured,
      rssAtStart,
      rssAfterPass,
      overbooked
    }
    const report = renderReport(reportInput)
    writeFileSync(OUTPUT, report)
    console.log(`\n${report}`)
    for (const t of checkTargets(reportInput)) console.log(`${t.ok ? "met   " : "MISSED"}  ${t.what}: ${t.detail}`)
    log(`written ${OUTPUT}`)
  } finally {
    await Promise.all([stop(service), stop(floor), stop(bare)])
    closeSync(serverLog)
    // the generated requests (tokens, dates) are not kept: the repository's checks read every file on disk
    rmSync(WORK, { recursive: true, force: true })
  }
}

// --- the report ----------------------------------------------------------------------------------------

interface ReportInput {
  readonly startedAt: Date
  readonly pgServerVersion: string
  readonly loadBefore: ReadonlyArray<number>
  readonly loadAfter: ReadonlyArray<number>
  readonly measured: ReadonlyArray<Measured>
  readonly rssAtStart: number
  readonly rssAfterPass: ReadonlyArray<number>
  readonly overbooked: Overbooking | undefined
}

interface TargetCheck {
  readonly what: string
  readonly ok: boolean
  readonly detail: string
}

/** Server CPU time per request in µs (a number; `cpuPerRequest` is its text). */
const microsPerRequest = (m: Measured) => (m.cpu.server / 100 / m.rps) * 1e6
const bookedPerSecond = (m: Measured) => (m.result.statuses["200"] ?? 0) / (m.result.duration_us / 1e6)

/**
 * Issue 18's targets, checked against pass 1: ratios to the references measured in the same run (the bare
 * `HttpApi` server, the floor), so the machine's speed and load cancel out as far as they can.
 */
const checkTargets = (input: ReportInput): Array<TargetCheck> => {
  const first = input.measured.filter((m) => m.pass === 1)
  const byName = new Map(first.map((m) => [m.scenario.name, m]))
  const targets: Array<TargetCheck> = []
  const check = (what: string, ok: boolean, detail: string) => targets.push({ what, ok, detail })
  const fractionOf = (name: string, target: number, reference: string) => {
    const m = byName.get(name)
    const ref = m?.scenario.floor === undefined ? undefined : byName.get(m.scenario.floor)
    if (m === undefined || ref === undefined) return m
    const fraction = m.rps / ref.rps
    check(
      `${m.scenario.title}: ≥ ${target * 100}% of ${reference}`,
      fraction >= target,
      `${(fraction * 100).toFixed(0)}% (${m.rps.toFixed(0)} vs ${ref.rps.toFixed(0)} req/s; ` +
        `${microsPerRequest(m).toFixed(0)} vs ${microsPerRequest(ref).toFixed(0)} µs/req)`
    )
    return m
  }
  const p99Under = (m: Measured | undefined, limitMs: number) => {
    if (m !== undefined)
      check(`${m.scenario.title}: p99 < ${limitMs} ms`, m.result.p99_us < limitMs * 1000, `${ms(m.result.p99_us)} ms`)
  }
  fractionOf("health", 0.9, "the bare HttpApi server's")
  for (const name of ["hotels-10", "hotels-20", "rooms"]) p99Under(fractionOf(name, 0.7, "the floor"), 50)
  for (const name of ["available-hotels", "available-rooms"]) p99Under(byName.get(name), 50)

  const bare = byName.get("bare-health")
  const many = byName.get("book-many")
  const hot = byName.get("book-hot")
  if (many !== undefined && bare !== undefined) {
    const ratio = microsPerRequest(many) / microsPerRequest(bare)
    check(
      `${many.scenario.title}: server µs per booking ≤ 3× the bare HttpApi server's µs/req`,
      ratio <= 3,
      `${ratio.toFixed(1)}× (${microsPerRequest(many).toFixed(0)} vs ${microsPerRequest(bare).toFixed(0)} µs; ` +
        `${bookedPerSecond(many).toFixed(0)} booked/s)`
    )
  }
  if (hot !== undefined && many !== undefined) {
    const ratio = bookedPerSecond(hot) / bookedPerSecond(many)
    check(
      `${hot.scenario.title}: ≥ half the random-room rate`,
      ratio >= 0.5,
      `${(ratio * 100).toFixed(0)}% (${bookedPerSecond(hot).toFixed(0)} vs ${bookedPerSecond(many).toFixed(0)} booked/s)`
    )
  }
  const bookingRuns = input.measured.filter((m) => m.scenario.bookings)
  if (bookingRuns.length > 0) {
    const errors = bookingRuns.reduce((n, m) => n + fivexx(m.result) + socketErrors(m.result), 0)
    check(
      "bookings: zero 5xx (every booking run, both passes)",
      errors === 0,
      bookingRuns
        .map(
          (m) => `${m.scenario.name} pass ${m.pass}: ${fivexx(m.result)} 5xx, ${socketErrors(m.result)} socket errors`
        )
        .join("; ")
    )
  }
  if (input.overbooked !== undefined) {
    const o = input.overbooked
    check(
      "zero overbookings",
      o.inventoryProblems === 0 && o.nightsAboveQuantity === 0,
      `${o.nightsAboveQuantity} nights above quantity, ${o.inventoryProblems} inventory problems, ${o.bookings} bookings in all`
    )
  }
  const serviceRss = input.measured.filter((m) => m.scenario.server === "service").map((m) => m.rssMb)
  const maxRss = Math.max(...serviceRss, ...input.rssAfterPass)
  check("server RSS < 200 MB throughout", maxRss < 200, `at most ${maxRss.toFixed(0)} MB`)
  if (input.rssAfterPass.length >= 2) {
    const [a, b] = input.rssAfterPass.slice(-2) as [number, number]
    check("RSS flat across two consecutive passes (≤ 5% growth)", b <= a * 1.05, `${a.toFixed(0)} → ${b.toFixed(0)} MB`)
  }
  return targets
}

const renderReport = (input: ReportInput): string => {
  const { measured } = input
  const first = measured.filter((m) => m.pass === 1)
  const byName = new Map(first.map((m) => [m.scenario.name, m]))
  const gitSha = command("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"])
  const dirty = command("git", ["-C", ROOT, "status", "--porcelain"]) === "" ? "" : " (with uncommitted changes)"
  const pgClient = (JSON.parse(readFileSync(join(ROOT, "node_modules/pg/package.json"), "utf8")) as { version: string })
    .version
  const load = (l: ReadonlyArray<number>) => l.map((x) => x.toFixed(2)).join(", ")

  const rows = first.map((m) => {
    const r = m.result
    const floor = m.scenario.floor === undefined ? undefined : byName.get(m.scenario.floor)
    const created = m.scenario.bookings
      ? ` (${((r.statuses["200"] ?? 0) / (r.duration_us / 1e6)).toFixed(0)} booked/s)`
      : ""
    return (
      `| ${m.scenario.title} | ${m.rps.toFixed(0)}${created} | ${ms(r.p50_us)} | ${ms(r.p99_us)} | ${ms(r.max_us)} | ` +
      `${socketErrors(r)} | ${statusText(r, m.scenario.countStatus)} | ${m.cpu.server.toFixed(0)} | ` +
      `${m.cpu.postgres.toFixed(0)} | ${m.cpu.machine.toFixed(0)} | ${cpuPerRequest(m)} | ${m.rssMb.toFixed(0)} | ` +
      `${floor === undefined ? "" : `${((m.rps / floor.rps) * 100).toFixed(0)}%`} | ${m.load1.toFixed(2)} |`
    )
  })

  const second = measured.filter((m) => m.pass === 2)
  const pass2 =
    second.length === 0
      ? []
      : [
          "",
          "Pass 2 (the same service scenarios again, same process):",
          "",
          "| Scenario | req/s | p99 ms | errors | non-2xx / statuses | RSS MB |",
          "|---|---:|---:|---:|---|---:|",
          ...second.map(
            (m) =>
              `| ${m.scenario.title} | ${m.rps.toFixed(0)} | ${ms(m.result.p99_us)} | ${socketErrors(m.result)} | ` +
              `${statusText(m.result, m.scenario.countStatus)} | ${m.rssMb.toFixed(0)} |`
          )
        ]

  const targets = checkTargets(input).map((t) => `| ${t.what} | ${t.ok ? "met" : "**missed**"} | ${t.detail} |`)

  return [
    "# Benchmark results",
    "",
    `\`npm run bench\` on ${input.startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC, commit ${gitSha}${dirty}.`,
    "See `bench/README.md` for what each scenario does, how to read this table and why targets are missed.",
    "",
    "## Machine",
    "",
    `- ${cpus().length} cores (\`nproc\`: ${command("nproc", [])}), ${cpus()[0]?.model ?? "unknown CPU"}`,
    `- memory (\`free -h\`): ${(totalmem() / 2 ** 30).toFixed(1)} GiB total, ${(freemem() / 2 ** 30).toFixed(1)} GiB free`,
    "  ```",
    ...command("free", ["-h"])
      .split("\n")
      .map((l) => `  ${l}`),
    "  ```",
    `- Node ${process.version}, PostgreSQL ${input.pgServerVersion}, node-postgres ${pgClient}, ${command("redis-server", ["--version"]).split(" ").slice(0, 3).join(" ")}, ${command("wrk", ["--version"]).split("\n")[0]?.split(" [")[0] ?? "wrk"}`,
    `- load average (1, 5, 15 min) before the run: ${load(input.loadBefore)}; after: ${load(input.loadAfter)}`,
    "- **the load generator (wrk), the server, PostgreSQL and Redis all share these cores**; the floor is measured",
    "  under the same conditions, in the same run",
    "",
    "## Settings",
    "",
    `${CONNECTIONS} connections, ${THREADS} wrk threads, ${WARMUP} s warm-up then ${DURATION} s measured per scenario; ` +
      `server: one process, APP_ENV=production, rate limiting off, BOOKING_HORIZON_DAYS=${BENCH_HORIZON_DAYS} ` +
      `(arrivals within three years), JSON logs at INFO to a file, ` +
      `DB_POOL_SIZE ${POOL_SIZE ?? "default"}, node options ${NODE_ARGS.length === 0 ? "none" : NODE_ARGS.join(" ")}; dataset: 3 countries, 20 cities, ${HOTELS} hotels, ${ROOMS} rooms, ` +
      `${USERS} users, 20,000 bookings over the next 90 days.`,
    "",
    "## Results (pass 1)",
    "",
    "CPU in % of one core (200% = the whole machine), measured over the measured run; RSS of the server (or floor) after it. " +
      "`vs reference`: req/s as a fraction of the bare HttpApi server's (`GET /health`) or the floor's, measured in this run. " +
      "`load`: the machine's 1-minute load average at the end of the measured run (other work on the machine shows there).",
    "",
    "| Scenario | req/s | p50 ms | p99 ms | max ms | socket errors | non-2xx / statuses | server CPU % | PostgreSQL CPU % | machine CPU % | server µs/req | RSS MB | vs reference | load (1 min) |",
    "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    ...pass2,
    "",
    `Server RSS: ${input.rssAtStart.toFixed(0)} MB at start, ${input.rssAfterPass.map((r, i) => `${r.toFixed(0)} MB after pass ${i + 1}`).join(", ")}.`,
    "",
    input.overbooked === undefined
      ? "No booking scenario ran."
      : `Overbooking after the booking runs: ${input.overbooked.nightsAboveQuantity} (room, night) pairs above the room's quantity ` +
        `(direct count), ${input.overbooked.inventoryProblems} inventory invariants broken (\`Testing.ts\`), ` +
        `${input.overbooked.bookings} bookings in all.`,
    "",
    "## Targets",
    "",
    "| Target | | Measured |",
    "|---|---|---|",
    ...targets,
    ""
  ].join("\n")
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})

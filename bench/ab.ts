/**
 * A/B of two builds of the server, the method of bench/README.md ("Issue 18"): both servers run at once
 * against one database, and one scenario is driven at each in turn, the order alternating round by round
 * (A B, B A, A B …) so neither always follows the other, while the idle one waits. Per round: the server's
 * CPU µs per request (utime + stime from /proc over the requests wrk completed), PostgreSQL's (its backends'
 * for the A/B database over the same requests), the latency's p50 and p99 (wrk's, or when paced this script's,
 * send to last byte), with the medians of each and of B/A per round at the end; and a reference's between
 * rounds, the machine's yardstick: for the catalogue reads (`hotels-10`, `hotels-20`, `rooms`) the floor (`floor/server.mjs`) on the same requests, else
 * the bare `HttpApi` server on `GET /health`. On a loaded machine read CPU per request, not throughput.
 *
 *   BENCH_AB_A=/tmp/old-checkout npx tsx --conditions=@shum/source bench/ab.ts
 *
 * A and B are checkouts with a production build (`npm run build`; node_modules beside it); B defaults to
 * this one. The database `shum_ab` is created afresh, migrated by B's migrator and seeded as `npm run bench`
 * seeds (`seed.ts`), so B's new migrations must be additive for A to run on it. Knobs: BENCH_AB_SCENARIO
 * (`book-many`: random room, arrival within three years, 1–7 nights, the next user's token; or `health`),
 * `health`; `hotels-10`: `GET /hotels?page=P&per_page=10`, P random in 1..50, as `npm run bench`'s scenario; `hotels-20` and
 * `rooms`: `npm run bench`'s scenarios of those names (a page of 20 with filters, `GET /hotels/{id}/rooms`);
 * `available-hotels`, `available-rooms`: the availability searches as `npm run bench`'s scenarios of those names; or `holds`: the checkout of docs/api.md §8.9 on a random room and stay as `book-many`'s, `POST /holds`
 * then `POST /holds/{id}/confirm` with the same token, paced only: BENCH_AB_RATE counts flows, µs are per HTTP
 * request), BENCH_AB_ROUNDS (8), BENCH_AB_SECONDS (5, measured), BENCH_AB_WARMUP (2), BENCH_AB_RATE (requests a
 * second at a fixed pace, this script sending them, instead of wrk's as-fast-as-answered: the fairer comparison
 * on a loaded machine, where CPU per request falls as the rate rises), BENCH_AB_PROFILE=1 (both servers under
 * `node --cpu-prof`, profiles in bench/results/profiles/ named by the pids printed; read them with
 * `bench/profile.ts`; the reference runs under it too), BENCH_AB_B_NODE_ARGS (`node` options for B's server only, after
 * production's: one build against itself with and without an option), BENCH_AB_PARALLEL=1 (with BENCH_AB_RATE: both servers driven at once, each at that
 * rate, so both meet the same moment of a shared machine), BENCH_AB_DATABASE (`shum_ab`), BENCH_AB_A_DATABASE (unset:
 * A runs on B's database; set: a database of A's own, created, migrated by A's migrator and seeded alike — to compare
 * two builds' migrations, B's not additive to A's or PostgreSQL's work the thing measured; each server's PostgreSQL
 * CPU is then its own database's backends'), BENCH_AB_PORT (18190: A's; B and the bare server the next two), BENCH_CONNECTIONS
 * (32), BENCH_THREADS (2), BENCH_ADMIN_URL, BENCH_REDIS_URL (db 13), BENCH_AB_A_POOL and BENCH_AB_B_POOL (`DB_POOL_SIZE` of
 * server A, of server B; unset: `DB_POOL_SIZE` as inherited, else the default — with BENCH_AB_A=BENCH_AB_B one build
 * against itself at two pool sizes, docs/operations.md §2).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import { loadavg } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { processTicks } from "./processTicks.js"
import { CITIES, HOTELS, hotelsFiltered20Query, ROOMS, seed, userTokens } from "./seed.js"
import { wrkReplay } from "./wrk.js"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const knob = (name: string, fallback: number) => {
  const value = Number(process.env[name])
  return Number.isFinite(value) && value > 0 ? value : fallback
}
const A = resolve(process.env["BENCH_AB_A"] ?? "")
const B = resolve(process.env["BENCH_AB_B"] ?? ROOT)
const SCENARIO = process.env["BENCH_AB_SCENARIO"] ?? "book-many"
const ROUNDS = knob("BENCH_AB_ROUNDS", 8)
const SECONDS = knob("BENCH_AB_SECONDS", 5)
const WARMUP = knob("BENCH_AB_WARMUP", 2)
const CONNECTIONS = knob("BENCH_CONNECTIONS", 32)
/** Requests a second, sent by this script at a fixed pace instead of by wrk as fast as the server answers. */
const RATE = knob("BENCH_AB_RATE", 0)
const THREADS = knob("BENCH_THREADS", 2)
const PROFILE = process.env["BENCH_AB_PROFILE"] === "1"
/** Both servers driven at once, each at `RATE` (paced only): both meet the same moment of a shared machine. */
const PARALLEL = process.env["BENCH_AB_PARALLEL"] === "1"
/** `node` options for B's server only, after production's (`BENCH_AB_B_NODE_ARGS="--max-semi-space-size=8"`). */
const B_NODE_ARGS = (process.env["BENCH_AB_B_NODE_ARGS"] ?? "").split(" ").filter((arg) => arg !== "")
const ADMIN_URL = process.env["BENCH_ADMIN_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres"
const REDIS_URL = process.env["BENCH_REDIS_URL"] ?? "redis://127.0.0.1:6379/13"
/** Its own database and ports (knobs, so that two A/Bs on one machine do not meet). */
const DATABASE = process.env["BENCH_AB_DATABASE"] ?? "shum_ab"
/** A database of A's own, migrated by A's migrator (unset: A shares B's). */
const A_DATABASE = process.env["BENCH_AB_A_DATABASE"]
const PORT = knob("BENCH_AB_PORT", 18190)
/** `DB_POOL_SIZE` per server, to compare pool sizes on one build. */
const POOLS: Record<string, string | undefined> = {
  A: process.env["BENCH_AB_A_POOL"],
  B: process.env["BENCH_AB_B_POOL"]
}
const urlOf = (database: string) => {
  const url = new URL(ADMIN_URL)
  url.pathname = `/${database}`
  return url.toString()
}
const DATABASE_URL = urlOf(DATABASE)
const JWT_SECRET = "bench-ab-secret-key-bench-ab-secret-key-0123"
const WORK = join(ROOT, "bench/results/ab-tmp")
const WINDOW_DAYS = 3 * 365

const log = (message: string) => console.log(`[ab ${new Date().toISOString().slice(11, 19)}] ${message}`)
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms))
const today = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`)
const day = (n: number) => new Date(today.getTime() + n * 86_400_000).toISOString().slice(0, 10)
const random = (n: number) => Math.floor(Math.random() * n)

interface WrkResult {
  readonly requests: number
  readonly duration_us: number
  readonly statuses: Record<string, number>
  /** The 50th and 99th percentile of latency: wrk's, or when paced this script's (send to last byte). */
  readonly p50_us?: number
  readonly p99_us?: number
}

/** The `q`-th quantile (0–1) of `xs`, nearest rank. */
const quantile = (xs: ReadonlyArray<number>, q: number) => {
  if (xs.length === 0) return 0
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

const wrk = (port: number, file: string, seconds: number): Promise<WrkResult> =>
  wrkReplay(`http://127.0.0.1:${port}`, file, {
    threads: THREADS,
    connections: CONNECTIONS,
    seconds,
    countStatus: true,
    timeout: "30s"
  })

/**
 * The requests of `file` sent at a fixed rate (`RATE` a second, for `seconds`), keep-alive, up to
 * `CONNECTIONS` at once: both builds then do the same work per second, so neither is judged at a rate where
 * the event loop batches more requests per wake-up (which lowers CPU per request on its own).
 */
const paced = (port: number, file: string, seconds: number): Promise<WrkResult> =>
  new Promise((done) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })
    const lines = readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l !== "")
    const statuses: Record<string, number> = {}
    const latencies: Array<number> = []
    const total = Math.round(RATE * seconds)
    const started = performance.now()
    let sent = 0
    let finished = 0
    let requests = 0
    /** One request; `then` is given its status and body when it ends (with `error` when the socket failed). */
    const call = (
      method: string,
      path: string,
      token: string,
      body: string,
      then: (status: string, text: string) => void
    ) => {
      const headers: Record<string, string> = {}
      if (token !== "-") headers["authorization"] = `Bearer ${token}`
      if (body !== "-") headers["content-type"] = "application/json"
      requests += 1
      const sentAt = performance.now()
      const request = http.request({ host: "127.0.0.1", port, method, path, headers, agent }, (response) => {
        let text = ""
        response.setEncoding("utf8").on("data", (chunk: string) => (text += chunk))
        response.on("end", () => {
          latencies.push((performance.now() - sentAt) * 1000)
          statuses[String(response.statusCode)] = (statuses[String(response.statusCode)] ?? 0) + 1
          then(String(response.statusCode), text)
        })
      })
      request.on("error", () => {
        statuses["error"] = (statuses["error"] ?? 0) + 1
        then("error", "")
      })
      request.end(body === "-" ? undefined : body)
    }
    const send = () => {
      const [method, path, token, body] = lines[sent % lines.length]!.split("\t") as [string, string, string, string]
      sent += 1
      if (method !== "FLOW") return call(method, path, token, body, finish)
      // a checkout: the hold, then its confirm with the same token
      call("POST", path, token, body, (status, text) => {
        if (status !== "201") return finish()
        const id = (JSON.parse(text) as { id: number }).id
        call("POST", `${path}/${id}/confirm`, token, "-", finish)
      })
    }
    const finish = () => {
      finished += 1
      if (finished === total) {
        agent.destroy()
        done({
          requests,
          duration_us: (performance.now() - started) * 1000,
          statuses,
          p50_us: quantile(latencies, 0.5),
          p99_us: quantile(latencies, 0.99)
        })
      }
    }
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * RATE))
      while (sent < due) send()
      if (sent >= total) clearInterval(timer)
    }, 5)
  })

/** A connection to the admin database that finds the A/B database's backends (`main` opens it). */
let monitor: pg.Client | undefined

/** utime + stime of every backend of `database` now, by pid (a backend gone meanwhile reads as 0). */
const backendTicks = async (database: string): Promise<Map<number, number>> => {
  const { rows } = await monitor!.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    [database]
  )
  const all = new Map<number, number>()
  for (const { pid } of rows) {
    try {
      all.set(pid, processTicks(pid))
    } catch {
      // ended between the query and the read
    }
  }
  return all
}

/**
 * One measured run: µs of the server's CPU per completed request, of PostgreSQL's (the A/B database's
 * backends: only the measured server runs statements meanwhile, the idle one's pool waits), and the statuses.
 */
const measure = async (pid: number, port: number, file: () => string, database = DATABASE) => {
  const drive = RATE > 0 ? paced : wrk
  if (WARMUP > 0) await drive(port, file(), WARMUP)
  const before = processTicks(pid)
  const pgBefore = await backendTicks(database)
  const result = await drive(port, file(), SECONDS)
  const used = processTicks(pid) - before
  let pgUsed = 0
  for (const [backend, now] of await backendTicks(database)) pgUsed += now - (pgBefore.get(backend) ?? 0)
  return {
    us: (used * 10_000) / result.requests,
    pgUs: (pgUsed * 10_000) / result.requests,
    rps: result.requests / (result.duration_us / 1e6),
    result
  }
}

const waitFor = async (url: string, child: ChildProcess) => {
  const deadline = Date.now() + 90_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited (${child.exitCode})`)
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false
      )
    )
      return
    await sleep(250)
  }
  throw new Error(`${url} did not answer`)
}

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null) return
  child.kill("SIGTERM")
  const deadline = Date.now() + 20_000
  while (child.exitCode === null && Date.now() < deadline) await sleep(100)
  if (child.exitCode === null) child.kill("SIGKILL")
}

/** The catalogue reads, measured against the floor on the same requests (`npm run bench`'s scenarios). */
const CATALOGUE_SCENARIOS: ReadonlySet<string> = new Set(["hotels-10", "hotels-20", "rooms"])

/** `npm run bench`'s `hotels-20` (`seed.ts` `hotelsFiltered20Query`, as `run.ts`): the `i`-th request's query string. */
const hotelsFiltered20 = (i: number) => hotelsFiltered20Query(i, random)

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const main = async () => {
  if (process.env["BENCH_AB_A"] === undefined) throw new Error("BENCH_AB_A: the checkout of build A")
  if (SCENARIO === "holds" && RATE === 0) throw new Error("the holds scenario is paced only: set BENCH_AB_RATE")
  if (PARALLEL && RATE === 0) throw new Error("BENCH_AB_PARALLEL needs BENCH_AB_RATE")
  mkdirSync(WORK, { recursive: true })
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  for (const database of [DATABASE, ...(A_DATABASE === undefined ? [] : [A_DATABASE])]) {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    await admin.query(`CREATE DATABASE ${database}`)
  }
  monitor = admin
  const env = {
    ...process.env,
    APP_ENV: "production",
    HOST: "127.0.0.1",
    DATABASE_URL,
    REDIS_URL,
    JWT_SECRET_KEY: JWT_SECRET,
    RATE_LIMIT_ENABLED: "false",
    LOG_LEVEL: "INFO",
    LOG_FORMAT_JSON: "true",
    IMAGE_DIR: join(WORK, "images"),
    BOOKING_HORIZON_DAYS: String(WINDOW_DAYS + 7)
  }
  // B's database by B's migrator; A's own (BENCH_AB_A_DATABASE) by A's, seeded alike
  const databases: Array<readonly [string, string]> = [[B, DATABASE_URL]]
  if (A_DATABASE !== undefined) databases.push([A, urlOf(A_DATABASE)])
  for (const [checkout, url] of databases) {
    const migrate = spawnSync(process.execPath, [join(checkout, "packages/infra/dist/bin/migrate.js")], {
      env: { ...env, DATABASE_URL: url }
    })
    if (migrate.status !== 0) throw new Error(`migration failed: ${migrate.stderr.toString()}`)
    const db = new pg.Client({ connectionString: url })
    await db.connect()
    log(`seeded ${url.replace(/.*\//, "")}: ${JSON.stringify(await seed(db))}`)
    await db.end()
  }

  const tokens = await userTokens(JWT_SECRET)
  // a file of its own for every run: a run replaying stays another run booked would meet 409s (a cheaper path)
  let runs = 0
  const requestFile = () => {
    const lines =
      SCENARIO === "health"
        ? ["GET\t/health\t-\t-"]
        : SCENARIO === "hotels-10"
          ? Array.from({ length: 2_000 }, () => `GET\t/hotels?page=${1 + random(50)}&per_page=10\t-\t-`)
          : SCENARIO === "hotels-20"
            ? Array.from({ length: 2_000 }, (_, i) => `GET\t/hotels?${hotelsFiltered20(i)}\t-\t-`)
            : SCENARIO === "rooms"
              ? Array.from({ length: 2_000 }, () => `GET\t/hotels/${1 + random(HOTELS)}/rooms\t-\t-`)
              : SCENARIO === "available-hotels" || SCENARIO === "available-rooms"
                ? Array.from({ length: 2_000 }, () => {
                    // as `npm run bench`'s scenarios: a stay of 1–7 nights starting within days 1..83
                    const from = 1 + random(82)
                    const params = new URLSearchParams({ date_from: day(from), date_to: day(from + 1 + random(7)) })
                    if (SCENARIO === "available-rooms") {
                      return `GET\t/hotels/${1 + random(HOTELS)}/rooms/available?${params.toString()}\t-\t-`
                    }
                    params.set("city", CITIES[random(CITIES.length)]![0])
                    params.set("page", "1")
                    params.set("per_page", "10")
                    return `GET\t/hotels/rooms/available?${params.toString()}\t-\t-`
                  })
                : Array.from({ length: 20_000 }, (_, i) => {
                    const from = 1 + random(WINDOW_DAYS)
                    const body = {
                      room_id: 1 + random(ROOMS),
                      date_from: day(from),
                      date_to: day(from + 1 + random(7))
                    }
                    const [method, path] = SCENARIO === "holds" ? ["FLOW", "/holds"] : ["POST", "/bookings"]
                    return `${method}\t${path}\t${tokens[i % tokens.length]}\t${JSON.stringify(body)}`
                  })
    const file = join(WORK, `${SCENARIO}-${++runs}.tsv`)
    writeFileSync(file, `${lines.join("\n")}\n`)
    return file
  }
  const FLOOR = CATALOGUE_SCENARIOS.has(SCENARIO)
  const bareFile = join(WORK, "bare.tsv")
  writeFileSync(bareFile, "GET\t/health\t-\t-\n")
  const referenceName = FLOOR ? "floor" : "bare HttpApi"
  const referenceFile = FLOOR ? requestFile : () => bareFile

  const nodeArgs = ["--max-old-space-size=256"]
  const results = () => ({ us: [] as Array<number>, pgUs: [] as Array<number>, p99: [] as Array<number> })
  const servers = [
    {
      name: "A",
      port: PORT,
      database: A_DATABASE ?? DATABASE,
      child: undefined as ChildProcess | undefined,
      ...results()
    },
    { name: "B", port: PORT + 1, database: DATABASE, child: undefined as ChildProcess | undefined, ...results() }
  ]
  // another A/B on the same ports would answer instead of these servers (which then fail to listen)
  for (const port of [PORT, PORT + 1, PORT + 2]) {
    const taken = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false
    )
    if (taken) throw new Error(`port ${port} is in use (another A/B?): set BENCH_AB_PORT`)
  }
  const profileArgs = PROFILE ? ["--cpu-prof", "--cpu-prof-dir", join(ROOT, "bench/results/profiles")] : []
  // profiled too (BENCH_AB_PROFILE=1): the reference's profile beside the two servers', from the same session
  const bare = spawn(
    process.execPath,
    [...nodeArgs, ...profileArgs, join(B, FLOOR ? "bench/floor/server.mjs" : "bench/bare/server.mjs")],
    {
      env: { ...process.env, PORT: String(PORT + 2), DATABASE_URL },
      stdio: "ignore"
    }
  )
  try {
    for (const [i, server] of servers.entries()) {
      server.child = spawn(
        process.execPath,
        [
          ...nodeArgs,
          ...(i === 1 ? B_NODE_ARGS : []),
          ...profileArgs,
          join([A, B][i]!, "packages/server/dist/main.js")
        ],
        {
          env: {
            ...env,
            PORT: String(server.port),
            DATABASE_URL: urlOf(server.database),
            ...(POOLS[server.name] === undefined ? {} : { DB_POOL_SIZE: POOLS[server.name] })
          },
          // its log kept for a look after the run (bench/results/ is not committed)
          stdio: ["ignore", openSync(join(ROOT, `bench/results/ab-${server.name}.log`), "w"), "inherit"]
        }
      )
      await waitFor(`http://127.0.0.1:${server.port}/ready`, server.child)
    }
    await waitFor(`http://127.0.0.1:${PORT + 2}${FLOOR ? "/hotels?page=1&per_page=10" : "/health"}`, bare)
    if (FLOOR) await measure(bare.pid!, PORT + 2, referenceFile)
    log(
      `A ${A} (pid ${servers[0]!.child!.pid}), B ${B} (pid ${servers[1]!.child!.pid}), ` +
        `${referenceName} (pid ${bare.pid}); ${SCENARIO}`
    )
    // a round neither server is judged by: JIT, pools and caches warmed on both
    for (const server of servers) await measure(server.child!.pid!, server.port, requestFile, server.database)
    const bareUs: Array<number> = []
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? servers : [...servers].reverse()
      const report = (server: (typeof servers)[number], m: Awaited<ReturnType<typeof measure>>) => {
        server.us.push(m.us)
        server.pgUs.push(m.pgUs)
        server.p99.push((m.result.p99_us ?? 0) / 1000)
        log(
          `round ${round} ${server.name}: ${m.us.toFixed(0)} µs/req, PostgreSQL ${m.pgUs.toFixed(0)} µs/req, ` +
            `${m.rps.toFixed(0)} req/s, ` +
            (m.result.p99_us === undefined
              ? ""
              : `p50 ${((m.result.p50_us ?? 0) / 1000).toFixed(1)} ms, p99 ${(m.result.p99_us / 1000).toFixed(1)} ms, `) +
            `statuses ${JSON.stringify(m.result.statuses)}, load ${loadavg()[0]!.toFixed(1)}`
        )
      }
      if (PARALLEL) {
        const ms = await Promise.all(
          servers.map((server) => measure(server.child!.pid!, server.port, requestFile, server.database))
        )
        servers.forEach((server, i) => report(server, ms[i]!))
      } else {
        for (const server of order) {
          report(server, await measure(server.child!.pid!, server.port, requestFile, server.database))
        }
      }
      const b = await measure(bare.pid!, PORT + 2, referenceFile)
      bareUs.push(b.us)
      log(`round ${round} ${referenceName}: ${b.us.toFixed(0)} µs/req, ${b.rps.toFixed(0)} req/s`)
    }
    const [a, b] = servers
    console.log(
      `\n${SCENARIO}, ${ROUNDS} rounds of ${SECONDS} s: server µs/req median (min) — ` +
        `A ${median(a!.us).toFixed(0)} (${Math.min(...a!.us).toFixed(0)}), ` +
        `B ${median(b!.us).toFixed(0)} (${Math.min(...b!.us).toFixed(0)}), ` +
        `${referenceName} ${median(bareUs).toFixed(0)} (${Math.min(...bareUs).toFixed(0)})`
    )
    // the load moves both servers of a round alike: B/A within each round is the steadier figure
    const ratios = a!.us.map((x, i) => b!.us[i]! / x)
    console.log(`B/A per round: ${ratios.map((r) => r.toFixed(2)).join(", ")}; median ${median(ratios).toFixed(2)}`)
    console.log(`A rounds: ${a!.us.map((x) => x.toFixed(0)).join(", ")}`)
    console.log(`B rounds: ${b!.us.map((x) => x.toFixed(0)).join(", ")}`)
    const medians = (key: "pgUs" | "p99", digits: number) =>
      `A ${median(a![key]).toFixed(digits)}, B ${median(b![key]).toFixed(digits)}; B/A per round median ` +
      median(a![key].map((x, i) => b![key][i]! / x)).toFixed(2)
    console.log(`PostgreSQL µs/req median: ${medians("pgUs", 0)}`)
    console.log(`p99 ms median: ${medians("p99", 1)}`)
  } finally {
    await Promise.all([...servers.map((s) => (s.child === undefined ? Promise.resolve() : stop(s.child))), stop(bare)])
    rmSync(WORK, { recursive: true, force: true })
    for (const database of [DATABASE, ...(A_DATABASE === undefined ? [] : [A_DATABASE])]) {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    }
    await admin.end()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
  void monitor?.end()
})

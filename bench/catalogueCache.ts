/**
 * A/B of the catalogue read cache (docs/decisions.md D7): two servers built from the same `dist/`, one with the
 * cache (`CATALOGUE_CACHE_ENABLED=true`) and one without, on one database seeded as `npm run bench` seeds its own,
 * next to the floor (`floor/server.mjs`), driven in turn — on, off, floor — for a few seconds each, several rounds,
 * so all three see the same load from the rest of the machine. Prints req/s, p99 and each process's CPU time per
 * request (the figure that survives a shared machine). Run `npm run build` first.
 *
 *   npx tsx --conditions=@shum/source bench/catalogueCache.ts
 *
 * Knobs: `AB_ROUNDS` (3), `AB_SECONDS` (4), `AB_CONNECTIONS` (32), `AB_SCENARIOS` (hotels-10,hotels-20,rooms,health).
 * Uses the database `shum_bench_cache` (dropped and made again) and ports 18090–18092.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { get as httpGet } from "node:http"
import { loadavg } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { processTicks } from "./processTicks.js"
import { HOTELS, hotelsFiltered20Query, seed, seededRandom } from "./seed.js"
import { wrkReplay } from "./wrk.js"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const WORK = join(ROOT, "bench/results/tmp-cache")
const knob = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const ROUNDS = knob("AB_ROUNDS", 3)
const SECONDS = knob("AB_SECONDS", 4)
const CONNECTIONS = knob("AB_CONNECTIONS", 32)
const ONLY = (process.env["AB_SCENARIOS"] ?? "hotels-10,hotels-20,rooms,health").split(",")
const ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
const DATABASE = "shum_bench_cache"
const DATABASE_URL = `postgres://postgres@127.0.0.1:5432/${DATABASE}`
const PORTS = { on: 18090, off: 18091, floor: 18092 } as const

const log = (message: string) => console.log(`[ab ${new Date().toISOString().slice(11, 19)}] ${message}`)

/** The same deterministic generator and requests as `run.ts`'s scenarios of the same names. */
const random = seededRandom()
const SCENARIOS: Record<string, () => Array<string>> = {
  "hotels-10": () => Array.from({ length: 2_000 }, () => `/hotels?page=${1 + random(HOTELS / 10)}&per_page=10`),
  "hotels-20": () => Array.from({ length: 2_000 }, (_, i) => `/hotels?${hotelsFiltered20Query(i, random)}`),
  rooms: () => Array.from({ length: 2_000 }, () => `/hotels/${1 + random(HOTELS)}/rooms`),
  // what any request costs through the whole stack (not the floor's: it has no /health)
  health: () => ["/health"]
}

interface WrkResult {
  readonly requests: number
  readonly duration_us: number
  readonly p99_us: number
}

const wrk = (port: number, file: string, seconds: number) =>
  wrkReplay<WrkResult>(`http://127.0.0.1:${port}`, file, {
    threads: 2,
    connections: CONNECTIONS,
    seconds,
    countStatus: false
  })

const waitFor = async (url: string) => {
  for (let i = 0; i < 300; i++) {
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false
    )
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`${url} never answered`)
}

const main = async () => {
  mkdirSync(WORK, { recursive: true })
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`)
  await admin.query(`CREATE DATABASE ${DATABASE}`)
  await admin.end()
  const env = {
    ...process.env,
    APP_ENV: "production",
    HOST: "127.0.0.1",
    DATABASE_URL,
    REDIS_URL: "redis://127.0.0.1:6379/13",
    JWT_SECRET_KEY: "bench-secret-key-bench-secret-key-bench-0123",
    RATE_LIMIT_ENABLED: "false",
    LOG_LEVEL: "INFO",
    LOG_FORMAT_JSON: "true",
    IMAGE_DIR: join(WORK, "images")
  }
  const migrate = spawnSync(process.execPath, [join(ROOT, "packages/infra/dist/bin/migrate.js")], { env })
  if (migrate.status !== 0) throw new Error(`migration failed: ${migrate.stderr.toString()}`)
  const db = new pg.Client({ connectionString: DATABASE_URL })
  await db.connect()
  log(`seeded ${JSON.stringify(await seed(db))}`)
  await db.end()

  const server = (port: number, cache: boolean) =>
    spawn(process.execPath, ["--max-old-space-size=256", join(ROOT, "packages/server/dist/main.js")], {
      env: { ...env, PORT: String(port), CATALOGUE_CACHE_ENABLED: String(cache) },
      stdio: ["ignore", "ignore", "inherit"]
    })
  const children: Record<keyof typeof PORTS, ChildProcess> = {
    on: server(PORTS.on, true),
    off: server(PORTS.off, false),
    floor: spawn(process.execPath, [join(ROOT, "bench/floor/server.mjs")], {
      env: { ...process.env, DATABASE_URL, PORT: String(PORTS.floor), DB_POOL_SIZE: "10" },
      stdio: ["ignore", "ignore", "inherit"]
    })
  }
  try {
    await waitFor(`http://127.0.0.1:${PORTS.on}/ready`)
    await waitFor(`http://127.0.0.1:${PORTS.off}/ready`)
    await waitFor(`http://127.0.0.1:${PORTS.floor}/hotels`)
    const rows: Array<string> = []
    for (const name of ONLY) {
      const file = join(WORK, `${name}.tsv`)
      writeFileSync(
        file,
        `${SCENARIOS[name]!()
          .map((path) => `GET\t${path}\t-\t-`)
          .join("\n")}\n`
      )
      const totals = { on: [0, 0, 0], off: [0, 0, 0], floor: [0, 0, 0] } // requests, seconds, ticks
      const p99s: Record<keyof typeof PORTS, Array<number>> = { on: [], off: [], floor: [] }
      const targets = name === "health" ? (["on", "off"] as const) : (["on", "off", "floor"] as const)
      for (const which of targets) await wrk(PORTS[which], file, 2) // warm-up (fills the cache)
      for (let round = 1; round <= ROUNDS; round++) {
        for (const which of targets) {
          const pid = children[which].pid!
          const before = processTicks(pid)
          const result = await wrk(PORTS[which], file, SECONDS)
          const used = processTicks(pid) - before
          totals[which][0]! += result.requests
          totals[which][1]! += result.duration_us / 1e6
          totals[which][2]! += used
          p99s[which].push(result.p99_us / 1000)
          log(
            `${name} round ${round} ${which.padEnd(5)} ${(result.requests / (result.duration_us / 1e6)).toFixed(0)} req/s ` +
              `${((used / 100 / result.requests) * 1e6).toFixed(0)} µs/req p99 ${(result.p99_us / 1000).toFixed(1)} ms ` +
              `load ${loadavg()[0]!.toFixed(1)}`
          )
        }
      }
      const rps = (w: keyof typeof PORTS) => totals[w][0]! / Math.max(totals[w][1]!, 1e-9)
      const us = (w: keyof typeof PORTS) => (totals[w][2]! / 100 / totals[w][0]!) * 1e6
      if (name === "health") {
        rows.push(
          `| ${name} | ${rps("on").toFixed(0)} · ${us("on").toFixed(0)} | ${rps("off").toFixed(0)} · ${us("off").toFixed(0)} | | |`
        )
        continue
      }
      rows.push(
        `| ${name} | ${rps("on").toFixed(0)} · ${us("on").toFixed(0)} · ${Math.max(...p99s.on).toFixed(0)} | ` +
          `${rps("off").toFixed(0)} · ${us("off").toFixed(0)} · ${Math.max(...p99s.off).toFixed(0)} | ` +
          `${rps("floor").toFixed(0)} · ${us("floor").toFixed(0)} · ${Math.max(...p99s.floor).toFixed(0)} | ` +
          `${((rps("on") / rps("floor")) * 100).toFixed(0)}% (off: ${((rps("off") / rps("floor")) * 100).toFixed(0)}%) |`
      )
    }
    // a connection of its own (fetch's kept-alive one may have been closed by the server meanwhile)
    const metrics = await new Promise<string>((resolve) =>
      httpGet({ host: "127.0.0.1", port: PORTS.on, path: "/metrics", agent: false }, (response) => {
        let text = ""
        response.on("data", (chunk: Buffer) => (text += chunk.toString()))
        response.on("end", () => resolve(text))
      }).on("error", () => resolve(""))
    )
    const counter = (name: string) =>
      metrics
        .split("\n")
        .find((l) => l.startsWith(name))
        ?.split(" ")
        .at(-1) ?? "0"
    console.log(
      `\n| scenario | cache on: req/s · µs/req · worst p99 ms | cache off | floor | on (off) as % of the floor's req/s |\n|---|---|---|---|---|\n${rows.join("\n")}\n\n` +
        `cache on: hits ${counter('cache_hits_total{namespace="catalogue"}')}, misses ` +
        `${counter('cache_misses_total{namespace="catalogue"}')}, version reads ${counter("catalogue_cache_version_reads_total")}`
    )
  } finally {
    for (const child of Object.values(children)) child.kill("SIGTERM")
    rmSync(WORK, { recursive: true, force: true })
  }
}

await main()

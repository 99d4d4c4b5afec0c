/**
 * The server's CPU per request of each kind in `bench/holds.ts`'s flow (issue 19): a hold placed, a hold
 * refused as sold out, a confirm — each kind sent on its own, so each gets its own figure (in `bench/holds.ts`
 * they interleave). The server runs in this process over a fresh database (as `bench/holds.ts`); the load
 * comes from a child process (`holdsCostClient.ts`: plain `node:http`, keep-alive connections), and the
 * figure is this process's CPU (user + system, `process.cpuUsage`) over the phase divided by its requests —
 * PostgreSQL's is not in it. `GET /health` is measured the same way, as the yardstick of the per-request
 * machinery every endpoint pays.
 *
 *   npx tsx --conditions=@shum/source bench/holdsCost.ts
 *
 * Knobs: BENCH_COST_N (requests per phase, 1000), BENCH_CONCURRENCY (64), BENCH_POOL (20), BENCH_COST_ROUNDS
 * (the phases run this many times, each on a room of its own, 3; the first is a warm-up and not reported),
 * BENCH_COST_PROFILE=1 (a V8 CPU profile of each measured phase, bench/results/profiles/holdsCost-<phase>-<round>
 * .cpuprofile, read with `bench/profile.ts`).
 */
import { Effect } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { loadavg } from "node:os"
import { join } from "node:path"
import type { Job, JobResult } from "./holdsCostClient.js"
import { day, hotRoom, inProcessServer, knob, runClient, seedHotel, seedUsers, serverBase } from "./inProcessServer.js"

const N = knob("BENCH_COST_N", 1000)
const CONCURRENCY = knob("BENCH_CONCURRENCY", 64)
const POOL = knob("BENCH_POOL", 20)
const ROUNDS = knob("BENCH_COST_ROUNDS", 3)
const PROFILE = process.env["BENCH_COST_PROFILE"] === "1"
/** At most 5 active holds per user: enough users for N holds at once. */
const USERS = Math.max(200, Math.ceil(N / 4))

const runJob = (job: Job) => runClient<JobResult>("holdsCostClient.ts", job)

const server = inProcessServer(POOL)

const program = Effect.gen(function* () {
  yield* seedHotel
  const { tokens } = yield* seedUsers(USERS)
  const base = yield* serverBase
  const session = new Session()
  session.connect()
  if (PROFILE) {
    yield* Effect.promise(() => session.post("Profiler.enable"))
    mkdirSync(join(import.meta.dirname, "results", "profiles"), { recursive: true })
  }

  /** The phase's requests sent, its CPU µs per request and the statuses answered. */
  const phase = (name: string, round: number, requests: Job["requests"]) =>
    Effect.gen(function* () {
      if (PROFILE && round > 0) yield* Effect.promise(() => session.post("Profiler.start"))
      // the client's start-up (a new node process) is outside the measure: CPU is sampled from its first request
      const before = process.cpuUsage()
      const result = yield* runJob({ base, concurrency: CONCURRENCY, requests })
      const used = process.cpuUsage(before)
      if (PROFILE && round > 0) {
        const { profile } = yield* Effect.promise(() => session.post("Profiler.stop"))
        writeFileSync(
          join(import.meta.dirname, "results", "profiles", `holdsCost-${name}-${round}.cpuprofile`),
          JSON.stringify(profile)
        )
      }
      const statuses = new Map<number, number>()
      for (const [status] of result.answers) statuses.set(status, (statuses.get(status) ?? 0) + 1)
      const us = (used.user + used.system) / requests.length
      return { name, us, seconds: result.seconds, statuses, answers: result.answers }
    }).pipe(Effect.orDie)

  const rows: Array<{ round: number; name: string; us: number; statuses: string; rps: number }> = []
  for (let round = 0; round < ROUNDS; round++) {
    const room = yield* hotRoom(`Горячий ${round}`, N)
    const [from, to] = [day(30 + round * 5), day(33 + round * 5)]
    const body = JSON.stringify({ room_id: room, date_from: from, date_to: to })
    const health = yield* phase(
      "health",
      round,
      Array.from({ length: N }, (_, i) => ["GET", "/health", tokens[i % tokens.length]!, null] as const)
    )
    const holds = yield* phase(
      "hold",
      round,
      Array.from({ length: N }, (_, i) => ["POST", "/holds", tokens[i % tokens.length]!, body] as const)
    )
    const confirms = yield* phase(
      "confirm",
      round,
      holds.answers.map(
        ([, text], i) =>
          [
            "POST",
            `/holds/${(JSON.parse(text) as { id: number }).id}/confirm`,
            tokens[i % tokens.length]!,
            null
          ] as const
      )
    )
    const refused = yield* phase(
      "refused",
      round,
      Array.from({ length: N }, (_, i) => ["POST", "/holds", tokens[i % tokens.length]!, body] as const)
    )
    for (const p of [health, holds, confirms, refused]) {
      rows.push({
        round,
        name: p.name,
        us: p.us,
        statuses: [...p.statuses].map(([s, n]) => `${s}×${n}`).join(" "),
        rps: N / p.seconds
      })
    }
    console.log(
      `round ${round}${round === 0 ? " (warm-up)" : ""}, load ${loadavg()
        .map((n) => n.toFixed(1))
        .join(" ")}`
    )
    for (const r of rows.filter((r) => r.round === round)) {
      console.log(
        `  ${r.name.padEnd(8)} ${r.us.toFixed(0).padStart(6)} µs/req  ${r.rps.toFixed(0).padStart(5)} req/s  ${r.statuses}`
      )
    }
  }
  session.disconnect()
})

Effect.runPromise(program.pipe(Effect.provide(server), Effect.scoped)).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})

/**
 * Holds benchmark (issue 19; docs/api.md §8.9, docs/data.md BR-13): the checkout flow on one hot room type —
 * each client places a hold (`POST /holds`) and confirms it (`POST /holds/{id}/confirm`) — over the real
 * server and PostgreSQL: the server runs in this process, the load comes from a child process
 * (`bench/holdsClient.ts`, plain `node:http` over keep-alive connections), so the figure is the server's and not
 * shared with a client on its event loop; then the same flow straight at the holds service (no HTTP), and the two
 * database statements alone (the SQL floor). Target: at least 400 confirmed stays/s, zero overbooking (no night
 * with more sold + held units than the room's quantity, the inventory equal to the bookings and holds by
 * docs/data.md BR-13's rule, and exactly `quantity` stays confirmed when the demand exceeds it).
 *
 *   npx tsx --conditions=@shum/source bench/holds.ts            (prints the figures)
 *   BENCH_WRITE=1 npx tsx --conditions=@shum/source bench/holds.ts   (also writes its section of results/latest.md)
 *
 * Needs the PostgreSQL of the tests (TEST_DATABASE_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres);
 * it creates a database of its own and drops it. Knobs: BENCH_POOL (connections, 20), BENCH_CONCURRENCY (64),
 * BENCH_HOLD_FLOWS (2000 hold-then-confirm flows), BENCH_HOLD_QUANTITY (1000 units of the hot room type),
 * BENCH_HOLD_WARMUP (flows over HTTP on another room before the measured ones, 300).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { DateString } from "@shum/domain/Common"
import { newSession } from "@shum/server/Auth/DeferredSession"
import { HoldsService } from "@shum/server/Holds/HoldsService"
import { inventoryProblems } from "@shum/server/Testing"
import { Array, Effect } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import { join } from "node:path"
import type { ClientInput, ClientOutput } from "./holdsClient.js"
import {
  day,
  hotRoom as hotRoomOf,
  inProcessServer,
  knob,
  percentile,
  runClient,
  seedHotel,
  seedUsers,
  serverBase
} from "./inProcessServer.js"

const POOL = knob("BENCH_POOL", 20)
const CONCURRENCY = knob("BENCH_CONCURRENCY", 64)
const FLOWS = knob("BENCH_HOLD_FLOWS", 2000)
const QUANTITY = knob("BENCH_HOLD_QUANTITY", 1000)
const WARMUP = knob("BENCH_HOLD_WARMUP", 300)
/** Each user has at most MAX_ACTIVE_HOLDS_PER_USER (5) holds at once: enough users that none waits on it. */
const USERS = Math.max(200, CONCURRENCY)
const TARGET = 400

const Server = inProcessServer(POOL)

const seed = Effect.zipRight(seedHotel, seedUsers(USERS))

const hotRoom = (title: string) => hotRoomOf(title, QUANTITY)

/** One flow's outcome: `confirmed`, or where it stopped (the hold refused, the confirm refused). */
interface Flow {
  readonly outcome: "confirmed" | "hold_409" | "confirm_failed" | "other"
  readonly ms: number
  /** When it ended, in ms after the run began. */
  readonly endedMs: number
}

interface Run {
  readonly flows: ReadonlyArray<Flow>
  readonly seconds: number
}

const runFlows = <R>(flow: (i: number) => Effect.Effect<Flow["outcome"], never, R>) =>
  Effect.gen(function* () {
    const started = performance.now()
    const flows = yield* Effect.forEach(
      Array.range(1, FLOWS),
      (i) =>
        Effect.gen(function* () {
          const t0 = performance.now()
          const outcome = yield* flow(i)
          const t1 = performance.now()
          return { outcome, ms: t1 - t0, endedMs: t1 - started } satisfies Flow
        }),
      { concurrency: CONCURRENCY }
    )
    return { flows, seconds: (performance.now() - started) / 1000 } satisfies Run
  })

/** CPU seconds (user + system) used by this process — the server's, during the HTTP row — while `effect` runs. */
const withCpu = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const before = process.cpuUsage()
    const result = yield* effect
    const used = process.cpuUsage(before)
    return { result, cpuSeconds: (used.user + used.system) / 1e6 }
  })

/**
 * Over HTTP, the load from a child process (`holdsClient.ts`): `flows` flows on `roomId` for the nights
 * `from` … `to − 1` (POST /holds, then POST /holds/{id}/confirm with the same token), `CONCURRENCY` at once.
 */
const httpRun = (roomId: number, from: string, to: string, flows: number, tokens: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const input: ClientInput = {
      base: yield* serverBase,
      tokens,
      concurrency: CONCURRENCY,
      stay: { roomId, from, to },
      flows
    }
    return yield* runClient<ClientOutput>("holdsClient.ts", input)
  }).pipe(Effect.orDie)

/** The holds service alone: place, then confirm, as the handlers call them. */
const serviceFlow = (roomId: number, users: ReadonlyArray<{ id: number; email: string }>) => (i: number) =>
  Effect.gen(function* () {
    const holds = yield* HoldsService
    const user = users[i % users.length]!
    // the session `DeferredAuthentication` would hand the service; the hold's statements check it (D13)
    const caller = newSession({ userId: user.id, jti: "", expiresAt: 0, version: 0 }, Effect.void)
    const body = { room_id: roomId, date_from: DateString.make(day(40)), date_to: DateString.make(day(43)) }
    const placed = yield* Effect.either(holds.create(caller, body, undefined))
    if (placed._tag === "Left")
      return placed.left._tag === "RoomUnavailable" ? ("hold_409" as const) : ("other" as const)
    const confirmed = yield* Effect.either(holds.confirm(caller, placed.right.id))
    return confirmed._tag === "Right" ? ("confirmed" as const) : ("confirm_failed" as const)
  })

/** The floor of the database path: the two statements alone (`hold_place`, `hold_confirm`), no service around them. */
const sqlFlow = (roomId: number, users: ReadonlyArray<{ id: number; email: string }>) => (i: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const user = users[i % users.length]!
    const [placed] = yield* sql<{ outcome: string; id: number | null }>`
      SELECT outcome, (answer->>'id')::int AS id
      FROM hold_place(${roomId}::integer, ${user.id}::integer, ${day(50)}::date, ${day(53)}::date,
                      ${day(0)}::date, 600, 5)`
    if (placed?.outcome === "sold_out") return "hold_409" as const
    if (placed?.outcome !== "held" || placed.id === null) return "other" as const
    const [confirmed] = yield* sql<{ outcome: string }>`
      SELECT outcome FROM hold_confirm(${placed.id}::integer, ${user.id}::integer, false)`
    return confirmed?.outcome === "confirmed_now" ? ("confirmed" as const) : ("confirm_failed" as const)
  }).pipe(Effect.orDie)

/** Nights whose sold + held exceed the room's quantity, inventory rows off, and the room's stays and holds. */
const overbooking = (roomId: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [above] = yield* sql<{ n: number }>`
      SELECT count(*)::int AS n FROM room_nights n JOIN rooms r ON r.id = n.room_id
      WHERE n.sold + n.held > r.quantity`
    const [stays] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM bookings WHERE room_id = ${roomId}`
    const [active] = yield* sql<{ n: number }>`
      SELECT count(*)::int AS n FROM holds WHERE room_id = ${roomId} AND status = 'active'`
    const problems = yield* inventoryProblems
    return { nightsAbove: above!.n, inventoryProblems: problems.length, stays: stays!.n, activeHolds: active!.n }
  })

interface Row {
  readonly name: string
  readonly flows: number
  readonly seconds: number
  readonly confirmed: number
  readonly refused: number
  readonly failed: number
  readonly perSecond: number
  /** Seconds until the last stay was confirmed (the room sold out), and the stays confirmed per second until then. */
  readonly soldOutSeconds: number
  readonly sellingPerSecond: number
  readonly p50: number
  readonly p99: number
  readonly nightsAbove: number
  readonly inventoryProblems: number
  readonly stays: number
  readonly cpu: Cpu
}

/** CPU seconds of this process over the row (the server's, for HTTP) and of the HTTP client's process. */
interface Cpu {
  readonly server: number
  readonly client?: number
}

const summarise = (name: string, roomId: number, run: Run, cpu: Cpu) =>
  Effect.gen(function* () {
    const latencies = run.flows.map((f) => f.ms).sort((a, b) => a - b)
    const count = (outcome: Flow["outcome"]) => run.flows.filter((f) => f.outcome === outcome).length
    const over = yield* overbooking(roomId)
    const soldOutSeconds =
      run.flows.reduce((last, f) => (f.outcome === "confirmed" ? Math.max(last, f.endedMs) : last), 0) / 1000
    const row: Row = {
      name,
      flows: run.flows.length,
      seconds: run.seconds,
      confirmed: count("confirmed"),
      refused: count("hold_409"),
      failed: count("confirm_failed") + count("other"),
      perSecond: count("confirmed") / run.seconds,
      soldOutSeconds,
      sellingPerSecond: count("confirmed") / soldOutSeconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      nightsAbove: over.nightsAbove,
      inventoryProblems: over.inventoryProblems,
      stays: over.stays,
      cpu
    }
    console.log(
      [
        `${name}: ${row.flows} flows in ${row.seconds.toFixed(2)} s`,
        `  confirmed ${row.confirmed}, hold refused (409) ${row.refused}, failed ${row.failed}`,
        `  confirmed stays/s ${row.perSecond.toFixed(1)} (target ${TARGET}), flow p50 ${row.p50.toFixed(1)} ms, p99 ${row.p99.toFixed(1)} ms`,
        `  sold out after ${row.soldOutSeconds.toFixed(2)} s: ${row.sellingPerSecond.toFixed(1)} stays/s while selling`,
        `  overbooking: ${row.nightsAbove} night(s) above quantity, ${row.inventoryProblems} inventory row(s) off; ` +
          `${row.stays} stays booked, ${over.activeHolds} holds left active`,
        `  CPU s: this process ${cpu.server.toFixed(1)}` +
          (cpu.client === undefined ? "" : `, the client's ${cpu.client.toFixed(1)}`)
      ].join("\n")
    )
    const expected = Math.min(QUANTITY, FLOWS)
    const wrong = row.nightsAbove + row.inventoryProblems + row.failed + (row.confirmed === expected ? 0 : 1)
    if (row.confirmed !== expected) console.log(`  UNEXPECTED: ${row.confirmed} confirmed, expected ${expected}`)
    return { row, wrong }
  })

const SECTION_START = "<!-- bench/holds.ts: start -->"
const SECTION_END = "<!-- bench/holds.ts: end -->"

/** Its own section of results/latest.md, replaced in place (the rest of the file is `npm run bench`'s). */
const writeSection = (rows: ReadonlyArray<Row>, load: { before: Array<number>; after: Array<number> }) => {
  const file = join(import.meta.dirname, "results", "latest.md")
  const fmt = (n: number) => n.toFixed(1)
  const section = [
    SECTION_START,
    "## Holds: hold-then-confirm on one hot room type (`bench/holds.ts`)",
    "",
    `Run on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${cpus().length} cores; ${FLOWS} flows ` +
      `(\`POST /holds\` then \`POST /holds/{id}/confirm\`) for ${QUANTITY} units of one room type, the same 3 ` +
      `nights, ${CONCURRENCY} at once, pool ${POOL}; over HTTP the server runs in the bench's process and the load ` +
      `comes from a child process (\`bench/holdsClient.ts\`, after ${WARMUP} warm-up flows on another room). ` +
      `Load average (1, 5, 15 min) before: ${load.before.map((n) => n.toFixed(2)).join(", ")}; after: ` +
      `${load.after.map((n) => n.toFixed(2)).join(", ")}. Target: ≥ ${TARGET} confirmed stays/s, zero overbooking.`,
    "",
    "| Path | flows | s | confirmed | hold 409 | failed | confirmed stays/s | sold out after s (stays/s while selling) | flow p50 ms | flow p99 ms | nights above quantity | inventory rows off | CPU s: server process (client) |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.flows} | ${r.seconds.toFixed(2)} | ${r.confirmed} | ${r.refused} | ${r.failed} | ` +
        `${fmt(r.perSecond)} | ${r.soldOutSeconds.toFixed(2)} (${fmt(r.sellingPerSecond)}) | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.nightsAbove} | ${r.inventoryProblems} | ` +
        `${fmt(r.cpu.server)}${r.cpu.client === undefined ? "" : ` (${fmt(r.cpu.client)})`} |`
    ),
    "",
    "Confirmed stays/s: over the whole run, its refused holds included (the target's figure); sold out after: when " +
      'the last stay was confirmed, the refusals after it not counted (bench/README.md, "Holds"). ' +
      "CPU over HTTP: the server's process from the client's start to its end, the client's over its flows. " +
      "PostgreSQL's CPU is not counted here (`npm run bench` does, for its scenarios).",
    SECTION_END
  ].join("\n")
  let text = readFileSync(file, "utf8")
  const start = text.indexOf(SECTION_START)
  const end = text.indexOf(SECTION_END)
  text =
    start >= 0 && end > start
      ? text.slice(0, start) + section + text.slice(end + SECTION_END.length)
      : `${text.trimEnd()}\n\n${section}\n`
  writeFileSync(file, text)
  console.log(`wrote its section of ${file}`)
}

const program = Effect.gen(function* () {
  const before = loadavg()
  const { tokens, users } = yield* seed
  console.log(`pool ${POOL}, client concurrency ${CONCURRENCY}, ${FLOWS} flows for ${QUANTITY} units`)
  const warmRoom = yield* hotRoom("Разогрев (HTTP)")
  const httpRoom = yield* hotRoom("Горячий (HTTP)")
  // the server warmed up first (its code compiled by the JIT, its pool's connections open), as `npm run bench` does
  yield* httpRun(warmRoom, day(20), day(23), WARMUP, tokens)
  const http = yield* withCpu(httpRun(httpRoom, day(30), day(33), FLOWS, tokens))
  const overHttp = yield* summarise(
    "HTTP, load from a child process",
    httpRoom,
    {
      flows: http.result.flows.map(([outcome, ms, endedMs]) => ({ outcome, ms, endedMs })),
      seconds: http.result.seconds
    },
    { server: http.cpuSeconds, client: http.result.cpuSeconds }
  )
  const serviceRoom = yield* hotRoom("Горячий (сервис)")
  const service = yield* withCpu(runFlows(serviceFlow(serviceRoom, users)))
  const direct = yield* summarise("holds service, no HTTP", serviceRoom, service.result, {
    server: service.cpuSeconds
  })
  const floorRoom = yield* hotRoom("Горячий (SQL)")
  const sqlOnly = yield* withCpu(runFlows(sqlFlow(floorRoom, users)))
  const floor = yield* summarise("SQL floor: hold_place + hold_confirm", floorRoom, sqlOnly.result, {
    server: sqlOnly.cpuSeconds
  })
  if (process.env["BENCH_WRITE"] === "1") {
    writeSection([overHttp.row, direct.row, floor.row], { before, after: loadavg() })
  }
  const wrong = overHttp.wrong + direct.wrong + floor.wrong
  if (wrong > 0) {
    console.log(`FAILED: ${wrong} overbooking/unexpected outcome(s)`)
    process.exitCode = 1
  }
})

Effect.runPromise(program.pipe(Effect.provide(Server), Effect.scoped)).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})

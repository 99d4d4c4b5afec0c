/**
 * SIGTERM under a steady load on kept-alive connections (D6), behind what a load balancer does (it polls
 * `/ready` and takes the server out at the first 503): every request is answered. During the drain the
 * server still answers, with `Connection: close`, so clients stop reusing their connections; requests in
 * flight when it stops accepting (here held up by a table lock) finish; exit 0. No reset, no hang-up, no
 * 5xx. The control: with no drain, the same load loses requests (refused before the balancer noticed).
 */
import { databaseUrl, randomName } from "@shum/infra/Testing"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  refusesConnections,
  describeOutcomes,
  type Outcome,
  freePort,
  readinessPoller,
  sleep,
  startServerProcess,
  steadyLoad,
  waitFor,
  waitReady
} from "./FaultSupport.js"
import { TEST_SECRET } from "./support.js"

const database = randomName("shum_fault_")
const admin = async (sql: string) => {
  const client = new pg.Client({ connectionString: databaseUrl("postgres") })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

beforeAll(() => admin(`CREATE DATABASE ${database}`))
afterAll(() => admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))

/** The scenario, with a given drain: every outcome of the load, when SIGTERM was sent, the exit code. */
const sigtermUnderLoad = async (drainSeconds: number) => {
  const port = await freePort()
  const server = startServerProcess({
    APP_ENV: "test",
    JWT_SECRET_KEY: TEST_SECRET,
    DATABASE_URL: databaseUrl(database),
    HOST: "127.0.0.1",
    PORT: String(port),
    SHUTDOWN_DRAIN_SECONDS: String(drainSeconds),
    SHUTDOWN_TIMEOUT_SECONDS: "30",
    LOG_LEVEL: "WARNING"
  })
  const base = `http://127.0.0.1:${port}`
  const locker = new pg.Client({ connectionString: databaseUrl(database) })
  try {
    await waitReady(server, base)
    await locker.connect()
    const balancer = readinessPoller(base, 500)
    const routable = () => balancer.ready
    const free = steadyLoad(() => base, ["/facilities", "/health", "/live", "/facilities?name=a"], {
      concurrency: 4,
      routable
    })
    const held = steadyLoad(() => base, ["/countries"], { concurrency: 4, routable })
    await sleep(1500)

    // the /countries loops get stuck on a lock: their requests are in flight across the close
    await locker.query("BEGIN")
    await locker.query("LOCK TABLE countries IN ACCESS EXCLUSIVE MODE")
    await sleep(300)
    const signalledAt = Date.now()
    server.signal("SIGTERM")
    await waitFor("the server to stop accepting", () => refusesConnections(port), 15_000)
    expect(server.running, "in-flight requests keep it running").toBe(true)
    await sleep(500)
    await locker.query("COMMIT")

    const { code } = await server.exited
    balancer.stop()
    const outcomes = [...(await free.stop()), ...(await held.stop())]
    return { outcomes, signalledAt, code, output: server.output }
  } finally {
    await locker.end().catch(() => undefined)
    await server.kill()
  }
}

const failures = (outcomes: ReadonlyArray<Outcome>) => outcomes.filter((o) => o.status === undefined || o.status >= 500)

describe("SIGTERM under load", () => {
  it("answers every request: the drain with Connection: close, then the in-flight ones; exit 0", async () => {
    const drainSeconds = 2
    const { outcomes, signalledAt, code, output } = await sigtermUnderLoad(drainSeconds)
    const failed = failures(outcomes)
    expect(failed, describeOutcomes(failed)).toEqual([])
    expect(outcomes.length).toBeGreaterThan(50)
    const afterSignal = outcomes.filter((o) => o.endedAt > signalledAt + 50)
    expect(afterSignal.length).toBeGreaterThan(4)
    expect(afterSignal.every((o) => o.status === 200 && o.connectionClose)).toBe(true)
    // the ones held by the lock outlived the listening socket and were answered
    expect(
      afterSignal.filter((o) => o.path === "/countries" && o.endedAt > signalledAt + drainSeconds * 1000).length
    ).toBe(4)
    expect(code, output).toBe(0)
  })

  it("control: with no drain, the same load has requests refused before the balancer saw /ready 503", async () => {
    const { outcomes } = await sigtermUnderLoad(0)
    expect(failures(outcomes).length).toBeGreaterThan(0)
  })
})

/**
 * Graceful shutdown (D6) of a real server process: a request in flight when SIGTERM arrives completes
 * with 200, `/ready` answers 503 meanwhile, then new connections are refused and the process exits 0; a
 * request still stuck at SHUTDOWN_TIMEOUT_SECONDS has its connection closed and the process exits all the same.
 * The slow request is an ordinary `GET /countries` held up by a table lock the test takes.
 */
import { assert, describe, it } from "@effect/vitest"
import { databaseUrl, randomName } from "@shum/infra/Testing"
import { spawn } from "node:child_process"
import { createServer } from "node:net"
import pg from "pg"
import { bareEnv, refusesConnections, repoRoot } from "./FaultSupport.js"
import { TEST_SECRET } from "./support.js"

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

const waitFor = async (what: string, check: () => Promise<boolean>, ms = 30_000) => {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const admin = async <A>(f: (client: pg.Client) => Promise<A>) => {
  const client = new pg.Client({ connectionString: databaseUrl("postgres") })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

/** A server process on a fresh database; `stop` kills it if still running and drops the database. */
const serverProcess = async (env: Record<string, string>) => {
  const database = randomName("shum_test_")
  await admin((c) => c.query(`CREATE DATABASE ${database}`))
  const port = await freePort()
  const child = spawn(
    process.execPath,
    ["--conditions=@shum/source", "--import", "tsx", "packages/server/src/main.ts"],
    {
      cwd: repoRoot,
      env: {
        ...bareEnv(),
        APP_ENV: "test",
        JWT_SECRET_KEY: TEST_SECRET,
        DATABASE_URL: databaseUrl(database),
        HOST: "127.0.0.1",
        PORT: String(port),
        LOG_LEVEL: "INFO",
        ...env
      },
      stdio: ["ignore", "pipe", "pipe"]
    }
  )
  const server = {
    database,
    port,
    child,
    base: `http://127.0.0.1:${port}`,
    output: "",
    exited: new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal }))
    ),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
    }
  }
  child.stdout.on("data", (chunk) => (server.output += chunk))
  child.stderr.on("data", (chunk) => (server.output += chunk))
  await waitFor(
    "the server",
    async () => {
      if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`)
      return (await fetch(`${server.base}/ready`)).status === 200
    },
    90_000
  ).catch(async (error) => {
    await server.stop()
    throw new Error(`${error}\n${server.output}`)
  })
  return server
}

/** A transaction holding `countries` locked: `GET /countries` waits on it until `release`. */
const lockCountries = async (database: string) => {
  const locker = new pg.Client({ connectionString: databaseUrl(database) })
  await locker.connect()
  await locker.query("BEGIN")
  await locker.query("LOCK TABLE countries IN ACCESS EXCLUSIVE MODE")
  return {
    release: () => locker.query("COMMIT").then(() => undefined),
    end: () => locker.end().catch(() => undefined)
  }
}

/** Waits until a request of the test's is in flight: its query waits for the test's lock. */
const waitForLockedRequest = (database: string) =>
  waitFor("the request to wait on the lock", async () => {
    const { rows } = await admin((c) =>
      c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", [
        database
      ])
    )
    return rows[0].n > 0
  })

describe("graceful shutdown", () => {
  it(
    "SIGTERM (twice, as a terminal's Ctrl-C arrives): in-flight request completes 200, /ready 503, new connections refused, exit 0",
    { timeout: 120_000 },
    async () => {
      const server = await serverProcess({ SHUTDOWN_DRAIN_SECONDS: "3", SHUTDOWN_TIMEOUT_SECONDS: "60" })
      const { base, child, database, port } = server
      const locker = await lockCountries(database)
      try {
        let settled = false
        const slow = fetch(`${base}/countries`).then(async (response) => {
          settled = true
          return { status: response.status, body: await response.json() }
        })
        await waitForLockedRequest(database)

        child.kill("SIGTERM")
        // the repeat within a second (`npm start` forwards the terminal's signal) must not cut the drain short
        await new Promise((resolve) => setTimeout(resolve, 200))
        child.kill("SIGTERM")
        await waitFor("/ready to answer 503", async () => {
          const response = await fetch(`${base}/ready`)
          const body = (await response.json()) as { ready: boolean; error?: string }
          return response.status === 503 && body.ready === false && body.error === "shutting down"
        })
        await waitFor("new connections to be refused", () => refusesConnections(port))
        assert.isFalse(settled, "the slow request is still running")
        assert.isNull(child.exitCode, "the server waits for it")

        await locker.release()
        const answer = await slow
        assert.strictEqual(answer.status, 200)
        assert.deepStrictEqual(answer.body, [])
        const { code, signal } = await server.exited
        assert.strictEqual(code, 0, server.output)
        assert.isNull(signal)
        assert.include(server.output, "shutting down: /ready answers 503")
      } finally {
        await locker.end()
        await server.stop()
      }
    }
  )

  it(
    "SIGTERM with a request stuck past SHUTDOWN_TIMEOUT_SECONDS: its connection is closed at the timeout, said in the log, and the process exits",
    { timeout: 120_000 },
    async () => {
      const server = await serverProcess({ SHUTDOWN_DRAIN_SECONDS: "0", SHUTDOWN_TIMEOUT_SECONDS: "2" })
      const { base, child, database } = server
      const locker = await lockCountries(database)
      try {
        const stuck = fetch(`${base}/countries`).then(
          (response) => `answered ${response.status}`,
          (error: Error) => `failed: ${error.message}`
        )
        await waitForLockedRequest(database)
        const signalled = Date.now()
        child.kill("SIGTERM")
        // the lock is never released while the server runs: only the timeout can end the wait
        const outcome = await Promise.race([
          server.exited.then((exit) => ({ ...exit, after: Date.now() - signalled })),
          new Promise<"still running">((resolve) => setTimeout(() => resolve("still running"), 30_000))
        ])
        assert.notStrictEqual(outcome, "still running", `the server did not exit after its timeout\n${server.output}`)
        assert.include(server.output, "in-flight requests still running after 2s: closing their connections")
        assert.isAtLeast((outcome as { after: number }).after, 1_900, "it waited for the timeout")
        assert.match(await stuck, /^failed/, "the stuck request's connection was closed")
        assert.strictEqual((outcome as { code: number | null }).code, 0, server.output)
      } finally {
        await locker.end()
        await server.stop()
      }
    }
  )
})

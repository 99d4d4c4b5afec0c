/**
 * Graceful shutdown (D6) of a real server process: a request in flight when SIGTERM arrives completes
 * with 200, `/ready` answers 503 meanwhile, then new connections are refused and the process exits 0.
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

describe("graceful shutdown", () => {
  it(
    "SIGTERM: in-flight request completes 200, /ready 503, new connections refused, exit 0",
    { timeout: 120_000 },
    async () => {
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
            SHUTDOWN_DRAIN_SECONDS: "3",
            SHUTDOWN_TIMEOUT_SECONDS: "60",
            LOG_LEVEL: "INFO"
          },
          stdio: ["ignore", "pipe", "pipe"]
        }
      )
      let output = ""
      child.stdout.on("data", (chunk) => (output += chunk))
      child.stderr.on("data", (chunk) => (output += chunk))
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once("exit", (code, signal) => resolve({ code, signal }))
      )
      const base = `http://127.0.0.1:${port}`
      const locker = new pg.Client({ connectionString: databaseUrl(database) })
      try {
        await waitFor(
          "the server",
          async () => {
            if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`)
            return (await fetch(`${base}/ready`)).status === 200
          },
          90_000
        ).catch((error) => {
          throw new Error(`${error}\n${output}`)
        })

        await locker.connect()
        await locker.query("BEGIN")
        await locker.query("LOCK TABLE countries IN ACCESS EXCLUSIVE MODE")
        let settled = false
        const slow = fetch(`${base}/countries`).then(async (response) => {
          settled = true
          return { status: response.status, body: await response.json() }
        })
        // the request is in flight once its query waits for our lock
        await waitFor("the request to wait on the lock", async () => {
          const { rows } = await locker.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
            [database]
          )
          return rows[0].n > 0
        })

        child.kill("SIGTERM")
        await waitFor("/ready to answer 503", async () => {
          const response = await fetch(`${base}/ready`)
          const body = (await response.json()) as { ready: boolean; error?: string }
          return response.status === 503 && body.ready === false && body.error === "shutting down"
        })
        await waitFor("new connections to be refused", () => refusesConnections(port))
        assert.isFalse(settled, "the slow request is still running")
        assert.isNull(child.exitCode, "the server waits for it")

        await locker.query("COMMIT")
        const answer = await slow
        assert.strictEqual(answer.status, 200)
        assert.deepStrictEqual(answer.body, [])
        const { code, signal } = await exited
        assert.strictEqual(code, 0, output)
        assert.isNull(signal)
        assert.include(output, "shutting down: /ready answers 503")
      } finally {
        await locker.end().catch(() => undefined)
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
        await admin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
      }
    }
  )
})

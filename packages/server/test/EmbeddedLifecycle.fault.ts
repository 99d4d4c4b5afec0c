/**
 * Faults of the embedded default (`npm start` with nothing configured, D10), whose PostgreSQL belongs to
 * the server process:
 * - Ctrl-C: PostgreSQL, in a session of its own, does not get the terminal's signal; the requests in
 *   flight are answered, then the server stops its database; `npm start` exits 0, nothing left running;
 * - the server killed (SIGKILL): its PostgreSQL stops too (its guardian sees the pipe close);
 * - PostgreSQL killed: the server restarts it and answers again, without a restart of its own (503 with
 *   Retry-After meanwhile, never 500); PostgreSQL that cannot come back (its data folder gone): the server
 *   exits 1 with a log line that says so, rather than answer 503 for ever.
 * One data folder for the file: initialised by the first start, reused by the others.
 */
import { spawn } from "node:child_process"
import { chmod, mkdtemp, readFile, rename, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  bareEnv,
  describeOutcomes,
  freePort,
  probe,
  Proc,
  repoRoot,
  sleep,
  startServerProcess,
  steadyLoad,
  waitFor,
  waitReady
} from "./FaultSupport.js"

let dataRoot: string
let dataDir: string

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), "shum-embedded-fault-"))
  await chmod(dataRoot, 0o755) // as root, PostgreSQL runs as the postgres user and must reach its folder
  dataDir = join(dataRoot, "postgres")
})

afterAll(async () => {
  await rm(dataRoot, { recursive: true, force: true })
})

const embeddedEnv = async () => {
  const [httpPort, pgPort] = [await freePort(), await freePort()]
  return {
    httpPort,
    pgPort,
    env: {
      HOST: "127.0.0.1",
      PORT: String(httpPort),
      EMBEDDED_POSTGRES_DIR: dataDir,
      EMBEDDED_POSTGRES_PORT: String(pgPort),
      RATE_LIMIT_PER_MINUTE: "1000000", // the load is one client
      LOG_LEVEL: "INFO"
    }
  }
}

const postmasterPid = async () => Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0])

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const database = async (pgPort: number) => {
  const password = (await readFile(`${dataDir}.password`, "utf8")).trim()
  const client = new pg.Client({ host: "127.0.0.1", port: pgPort, user: "postgres", password, database: "booking" })
  await client.connect()
  return client
}

const pgAnswers = (pgPort: number) =>
  database(pgPort).then(
    (client) => client.end().then(() => true),
    () => false
  )

describe("the embedded default under faults", () => {
  it("Ctrl-C on `npm start`: in-flight requests answered, PostgreSQL stopped last, exit 0", async () => {
    const { httpPort, pgPort, env } = await embeddedEnv()
    const npm = new Proc(
      spawn("npm", ["start", "--silent"], {
        cwd: repoRoot,
        env: { ...bareEnv(), ...env },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true // a process group of its own, as a terminal gives the foreground job
      })
    )
    const base = `http://127.0.0.1:${httpPort}`
    let locker: pg.Client | undefined
    try {
      await waitReady(npm, base)
      const pid = await postmasterPid()

      // requests in flight: they wait on a lock the test holds on the table they read
      locker = await database(pgPort)
      await locker.query("BEGIN")
      await locker.query("LOCK TABLE countries IN ACCESS EXCLUSIVE MODE")
      let waiting = 0
      const inFlight = Array.from({ length: 6 }, () => probe(base, "/countries", false))
      await waitFor("the requests to wait on the lock", async () => {
        const { rows } = await locker!.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'booking' AND wait_event_type = 'Lock'"
        )
        waiting = rows[0]!.n
        return waiting >= 3 // (identical reads may share a query)
      }).catch((error: unknown) => {
        throw new Error(`${String(error)} (${waiting} waiting)\n${npm.output.slice(-2000)}`)
      })

      npm.signal("SIGINT", true) // Ctrl-C: the terminal signals the whole foreground process group
      await sleep(1500)
      expect(npm.running, "the server waits for its requests").toBe(true)
      expect(alive(pid), "PostgreSQL did not get the terminal's signal").toBe(true)
      expect(await pgAnswers(pgPort), "PostgreSQL still serves the requests in flight").toBe(true)

      await locker.query("COMMIT")
      await locker.end()
      locker = undefined
      const answers = await Promise.all(inFlight)
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200])

      const { code, signal } = await npm.exited
      expect({ code, signal }, npm.output).toEqual({ code: 0, signal: null })
      expect(alive(pid), "no PostgreSQL left running").toBe(false)
      expect(npm.output).toContain("embedded PostgreSQL stopped")
      expect(npm.output).not.toMatch(/ERROR|FATAL|unhandled/i)
    } finally {
      await locker?.end().catch(() => undefined)
      await npm.kill()
    }
  })

  it("the server killed with SIGKILL: its PostgreSQL stops too, and the next start takes the folder", async () => {
    const { httpPort, env } = await embeddedEnv()
    const server = startServerProcess(env)
    try {
      await waitReady(server, `http://127.0.0.1:${httpPort}`)
      const pid = await postmasterPid()
      server.signal("SIGKILL")
      await server.exited
      await waitFor("PostgreSQL to stop after its server died", async () => !alive(pid), 15_000)
    } finally {
      await server.kill()
    }
    const again = await embeddedEnv()
    const next = startServerProcess(again.env)
    try {
      await waitReady(next, `http://127.0.0.1:${again.httpPort}`)
      expect(next.output).not.toContain("left running by a previous run")
      next.signal("SIGTERM")
      expect((await next.exited).code).toBe(0)
    } finally {
      await next.kill()
    }
  })

  it("PostgreSQL killed: restarted without a server restart (503 with Retry-After meanwhile, never 500); gone for good: exit 1", async () => {
    const { httpPort, env } = await embeddedEnv()
    const server = startServerProcess(env)
    const base = `http://127.0.0.1:${httpPort}`
    try {
      await waitReady(server, base)
      const load = steadyLoad(() => base, ["/countries", "/hotels", "/facilities"], { concurrency: 3 })
      await sleep(500)
      process.kill(await postmasterPid(), "SIGKILL")
      // the killed postmaster's backends may answer a little longer: wait for the restart itself, then for
      // answers that only the restarted PostgreSQL can have given
      let restartedAt = 0
      await waitFor(
        "the restart, then answers from the restarted PostgreSQL",
        async () => {
          if (restartedAt === 0 && server.output.includes("embedded PostgreSQL restarted")) restartedAt = Date.now()
          return restartedAt > 0 && load.outcomes.some((o) => o.startedAt > restartedAt && o.status === 200)
        },
        30_000
      ).catch((error: unknown) => {
        throw new Error(
          `${String(error)}\n${describeOutcomes(load.outcomes.slice(-10))}\n${server.output.slice(-3000)}`
        )
      })
      await sleep(500)
      const outcomes = await load.stop()
      const unexpected = outcomes.filter((o) => !(o.status === 200 || (o.status === 503 && o.retryAfter !== undefined)))
      expect(unexpected, describeOutcomes(unexpected)).toEqual([])
      expect(server.running).toBe(true)
      expect(server.output).toContain("embedded PostgreSQL exited unexpectedly (signal SIGKILL): restarting it")
      expect(server.output).toContain("embedded PostgreSQL restarted")
      expect((await fetch(`${base}/ready`)).status).toBe(200)

      // the data folder is gone (a lost volume): PostgreSQL cannot come back, the server says so and exits
      const pid = await postmasterPid()
      await rename(dataDir, `${dataDir}.lost`)
      process.kill(pid, "SIGKILL")
      const { code } = await server.exited
      expect(code, server.output).toBe(1)
      expect(server.output).toMatch(/embedded PostgreSQL is gone: not restarted after 5 attempts .*exits/)
      await rename(`${dataDir}.lost`, dataDir)
    } finally {
      await server.kill()
    }
  })
})

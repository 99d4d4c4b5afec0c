/**
 * A rolling restart behind the repository's real nginx (deploy/nginx/entrypoint.sh renders the template,
 * Debian's nginx runs it): two server processes on one database, a steady keep-alive load through nginx,
 * each server in turn stopped with SIGTERM (its drain answering with `Connection: close`, then refusing
 * connections: nginx sends those requests to the other one) and started again on the same port; the next
 * one is restarted only once nginx routes to the first again (what a readiness-gated rollout waits for).
 * Every request of the load is answered 200: zero failed requests.
 */
import { databaseUrl, freshDatabase } from "@shum/infra/Testing"
import { Effect, Exit, Scope } from "effect"
import { spawn } from "node:child_process"
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Child, freePort, repoPath, request, spawnSourceServer, waitFor, waitServerReady } from "./support.js"

const DRAIN_SECONDS = 2
const day = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10)

let scope: Scope.CloseableScope
let databaseName: string
let runtimeDir: string
let nginx: Child | undefined
let edge: string
const ports: Array<number> = []
const servers: Array<Child | undefined> = [undefined, undefined]

const startServer = async (index: number) => {
  const child = spawnSourceServer(ports[index]!, databaseUrl(databaseName), {
    LOG_LEVEL: "WARNING",
    SHUTDOWN_DRAIN_SECONDS: String(DRAIN_SECONDS),
    SHUTDOWN_TIMEOUT_SECONDS: "20"
  })
  servers[index] = child
  await waitServerReady(child, `http://127.0.0.1:${ports[index]}`, `server ${index}'s /ready`)
}

/** nginx's access log: which upstream answered what, and when. */
const accessLog = () =>
  readFileSync(join(runtimeDir, "access.log"), "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as { upstream_addr: string; upstream_status: string; status: number })

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  databaseName = (await Effect.runPromise(Scope.extend(freshDatabase, scope))).name
  ports.push(await freePort(), await freePort())
  await startServer(0) // migrates the database
  await startServer(1)
  runtimeDir = mkdtempSync(join(tmpdir(), "shum-rolling-"))
  chmodSync(runtimeDir, 0o755) // nginx's workers run as www-data
  const port = await freePort()
  edge = `http://127.0.0.1:${port}`
  nginx = new Child(
    spawn("sh", [repoPath("deploy/nginx/entrypoint.sh")], {
      env: {
        PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
        NGINX_RUNTIME_DIR: runtimeDir,
        NGINX_USER: "www-data",
        NGINX_WORKER_PROCESSES: "1",
        NGINX_ERROR_LOG: join(runtimeDir, "error.log"),
        NGINX_ACCESS_LOG: join(runtimeDir, "access.log"),
        NGINX_UPSTREAM: ports.map((p) => `127.0.0.1:${p}`).join(","),
        NGINX_LISTEN: `127.0.0.1:${port}`,
        NGINX_IMAGE_DIR: runtimeDir,
        RATE_LIMIT_PER_MINUTE: "6000000" // the load is one client
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
  )
  await waitFor("nginx", async () => {
    if (nginx!.process.exitCode !== null) throw new Error(`nginx exited: ${nginx!.output.join("\n")}`)
    return (await request(`${edge}/health`)).status === 200
  })
})

afterAll(async () => {
  await nginx?.stop("SIGQUIT")
  for (const server of servers) await server?.stop("SIGKILL")
  await Effect.runPromise(Scope.close(scope, Exit.void))
  if (runtimeDir) rmSync(runtimeDir, { recursive: true, force: true })
})

interface Outcome {
  readonly status?: number | undefined
  readonly error?: string | undefined
}

const get = (agent: http.Agent, path: string) =>
  new Promise<Outcome>((resolve) => {
    const req = http.get(`${edge}${path}`, { agent }, (res) => {
      res.resume()
      res.on("end", () => resolve({ status: res.statusCode }))
      res.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }))
    })
    req.setTimeout(30_000, () => req.destroy(new Error("timeout")))
    req.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }))
  })

describe("a rolling restart behind nginx", () => {
  it("restarts each of two servers in turn under a steady load: zero failed requests", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 6 })
    const outcomes: Array<Outcome> = []
    let running = true
    const paths = [
      "/countries",
      "/hotels",
      "/facilities",
      "/cities",
      `/hotels/rooms/available?date_from=${day(30)}&date_to=${day(32)}`
    ]
    let n = 0
    const loops = Array.from({ length: 6 }, async () => {
      while (running) outcomes.push(await get(agent, paths[n++ % paths.length]!))
    })
    try {
      await new Promise((r) => setTimeout(r, 1000))
      for (const index of [0, 1]) {
        const upstream = `127.0.0.1:${ports[index]}`
        const code = await servers[index]!.stop("SIGTERM")
        expect(code, servers[index]!.output.join("\n")).toBe(0)
        const restartedAt = accessLog().length
        await startServer(index)
        // back in rotation: nginx routes to it again (after its fail_timeout)
        await waitFor(
          `nginx to route to ${upstream} again`,
          async () =>
            accessLog()
              .slice(restartedAt)
              .some((e) => e.upstream_addr === upstream && e.status === 200),
          30_000
        )
      }
      await new Promise((r) => setTimeout(r, 500))
    } finally {
      running = false
      await Promise.all(loops)
      agent.destroy()
    }
    const failed = outcomes.filter((o) => o.status !== 200)
    expect(failed.slice(0, 10), `${failed.length} of ${outcomes.length} failed`).toEqual([])
    expect(outcomes.length).toBeGreaterThan(200)
    // both upstreams answered, and nginx retried elsewhere what a stopping server refused
    const log = accessLog()
    for (const port of ports) expect(log.some((e) => e.upstream_addr === `127.0.0.1:${port}`)).toBe(true)
    expect(log.every((e) => e.status === 200)).toBe(true)
  })
})

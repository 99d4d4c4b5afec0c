/**
 * Shared by the fault suite (`*.fault.ts`, `npm run test:fault`): real server processes started from
 * source as `npm start` does, their output kept, and a steady HTTP load whose every outcome is recorded.
 */
import { type ChildProcess, spawn } from "node:child_process"
import http from "node:http"
import { connect, createServer } from "node:net"
import { tmpdir } from "node:os"
import { fileURLToPath } from "node:url"

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Thrown by a `waitFor` check to stop waiting at once (the process it waits for is gone). */
export class GiveUp extends Error {}

export const waitFor = async (what: string, check: () => Promise<boolean>, ms = 30_000) => {
  const deadline = Date.now() + ms
  let last: unknown
  while (Date.now() < deadline) {
    try {
      if (await check()) return
    } catch (error) {
      if (error instanceof GiveUp) throw error
      last = error
    }
    await sleep(100)
  }
  throw new Error(`timed out waiting for ${what}${last === undefined ? "" : `: ${String(last)}`}`)
}

/**
 * A `redis-server` of a test file's own on `port` (a spare one, no persistence), started, killed (`SIGKILL`) and
 * started again empty at will; `cli` runs one command through `redis-cli` (no client of ours to keep connected).
 */
export class OwnRedis {
  private process: ChildProcess | undefined
  constructor(readonly port: number) {}

  get url() {
    return `redis://127.0.0.1:${this.port}`
  }

  readonly cli = (...args: Array<string>) =>
    new Promise<string>((resolve, reject) => {
      const cli = spawn("redis-cli", ["-p", String(this.port), ...args], { stdio: ["ignore", "pipe", "pipe"] })
      let out = ""
      cli.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
      cli.once("error", reject)
      cli.once("close", () => resolve(out.trim())) // after the last of its output, unlike "exit"
    })

  readonly start = async () => {
    this.process = spawn(
      "redis-server",
      ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmpdir()],
      { stdio: "ignore" }
    )
    await waitFor("redis-server", () => this.cli("PING").then((r) => r === "PONG"))
  }

  readonly stop = async () => {
    const running = this.process
    if (running === undefined) return
    const exited = new Promise((resolve) => running.once("exit", resolve))
    running.kill("SIGKILL")
    await exited
    this.process = undefined
  }
}

/** Whether a connection to `port` on loopback is refused (the listener closed). */
export const refusesConnections = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resolve(false)
    })
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"))
  })

/** The environment without the variables that would select a database, Redis or other settings. */
export const bareEnv = () => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (
      value === undefined ||
      /^(DB_|DATABASE_URL|REDIS_|APP_ENV|JWT_|ADMIN_|ROOT_PATH|PORT$|HOST$|SHUTDOWN_|EMBEDDED_|LOG_)/.test(key)
    )
      continue
    env[key] = value
  }
  return env
}

/** A child process whose output is kept and whose end is awaited. */
export class Proc {
  output = ""
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  constructor(readonly child: ChildProcess) {
    child.stdout?.on("data", (chunk: Buffer) => (this.output += chunk.toString("utf8")))
    child.stderr?.on("data", (chunk: Buffer) => (this.output += chunk.toString("utf8")))
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))
  }
  get running() {
    return this.child.exitCode === null && this.child.signalCode === null
  }
  /** A signal to the process, or with `group` to its whole process group (as a terminal's Ctrl-C does). */
  signal(signal: NodeJS.Signals, group = false) {
    try {
      if (group) process.kill(-this.child.pid!, signal)
      else this.child.kill(signal)
    } catch {
      // already gone
    }
  }
  async kill() {
    if (this.running) this.signal("SIGKILL", true)
    await this.exited
  }
}

/** The server (`packages/server/src/main.ts` from source, as `npm start` runs it) in a process group of its own. */
export const startServerProcess = (env: Record<string, string>) =>
  new Proc(
    spawn(process.execPath, ["--conditions=@shum/source", "--import", "tsx", "packages/server/src/main.ts"], {
      cwd: repoRoot,
      env: { ...bareEnv(), ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true
    })
  )

/** Waits for `/ready` 200, failing early (with the output) if the process ends. */
export const waitReady = async (proc: Proc, base: string, ms = 90_000) =>
  waitFor(
    `${base}/ready`,
    async () => {
      if (!proc.running) throw new GiveUp(`the server exited:\n${proc.output.slice(-3000)}`)
      return (await fetch(`${base}/ready`)).status === 200
    },
    ms
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${proc.output.slice(-3000)}`)
  })

export interface Outcome {
  readonly path: string
  readonly startedAt: number
  readonly endedAt: number
  /** The HTTP status, or undefined when the request failed without an answer. */
  readonly status?: number | undefined
  readonly retryAfter?: string | undefined
  readonly connectionClose?: boolean | undefined
  /** The network error of a request without an answer (`ECONNREFUSED`, `ECONNRESET`, …). */
  readonly error?: string | undefined
  /** Whether the request went on a kept-alive connection that had served a request before. */
  readonly reused?: boolean | undefined
}

/** One request on `agent`, its outcome recorded whatever happens. */
export const probe = (
  base: string,
  path: string,
  agent: http.Agent | false,
  options: { readonly method?: string; readonly body?: string; readonly headers?: Record<string, string> } = {}
) =>
  new Promise<Outcome>((resolve) => {
    const startedAt = Date.now()
    const request = http.request(
      `${base}${path}`,
      {
        method: options.method ?? "GET",
        agent,
        headers: {
          ...(options.body === undefined
            ? {}
            : { "content-type": "application/json", "content-length": String(Buffer.byteLength(options.body)) }),
          ...options.headers
        }
      },
      (response) => {
        response.resume()
        response.on("end", () =>
          resolve({
            path,
            startedAt,
            endedAt: Date.now(),
            status: response.statusCode,
            retryAfter: response.headers["retry-after"],
            connectionClose: response.headers["connection"] === "close",
            reused: request.reusedSocket
          })
        )
        response.on("error", (error: NodeJS.ErrnoException) =>
          resolve({
            path,
            startedAt,
            endedAt: Date.now(),
            error: error.code ?? error.message,
            reused: request.reusedSocket
          })
        )
      }
    )
    request.setTimeout(30_000, () => request.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })))
    request.on("error", (error: NodeJS.ErrnoException) =>
      resolve({
        path,
        startedAt,
        endedAt: Date.now(),
        error: error.code ?? error.message,
        reused: request.reusedSocket
      })
    )
    request.end(options.body)
  })

/**
 * A steady load: `concurrency` loops, each sending its next request as soon as the previous one is
 * answered, on kept-alive connections (`http.Agent` with keepAlive), until `stop()`.
 */
export const steadyLoad = (
  base: () => string,
  paths: ReadonlyArray<string>,
  options: {
    readonly concurrency?: number
    readonly until?: (outcome: Outcome) => boolean
    /** Checked before each request: false stops the loops (a balancer that took the server out). */
    readonly routable?: () => boolean
  } = {}
) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency ?? 4 })
  const outcomes: Array<Outcome> = []
  let running = true
  let n = 0
  const loops = Array.from({ length: options.concurrency ?? 4 }, async () => {
    while (running && (options.routable?.() ?? true)) {
      const outcome = await probe(base(), paths[n++ % paths.length]!, agent)
      outcomes.push(outcome)
      if (options.until?.(outcome)) running = false
    }
  })
  return {
    outcomes,
    stop: async () => {
      running = false
      await Promise.all(loops)
      agent.destroy()
      return outcomes
    }
  }
}

/**
 * What a load balancer does: polls `/ready` every `periodMs` and takes the server out of rotation at the
 * first answer that is not 200 (failure threshold 1).
 */
export const readinessPoller = (base: string, periodMs = 500) => {
  let ready = true
  const timer = setInterval(() => {
    fetch(`${base}/ready`).then(
      (response) => {
        if (response.status !== 200) ready = false
        return response.body?.cancel()
      },
      () => (ready = false)
    )
  }, periodMs)
  return {
    get ready() {
      return ready
    },
    stop: () => clearInterval(timer)
  }
}

/** A readable digest of unexpected outcomes, for assertion messages. */
export const describeOutcomes = (outcomes: ReadonlyArray<Outcome>) =>
  JSON.stringify(
    outcomes.slice(0, 10).map((o) => ({ path: o.path, status: o.status, error: o.error, reused: o.reused })),
    null,
    1
  )

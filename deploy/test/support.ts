/**
 * Shared by the deployment checks: paths, running tools, YAML, and the real server as a child process
 * (`npx tsx … packages/server/src/main.ts` in-process equivalent) on a database of its own.
 */
import { databaseUrl, freshDatabase } from "@shum/infra/Testing"
import { Effect, Exit, Scope } from "effect"
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import { readdirSync, readFileSync, statSync } from "node:fs"
import http from "node:http"
import { createServer } from "node:net"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { parseAllDocuments } from "yaml"

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
export const repoPath = (...parts: ReadonlyArray<string>) => join(ROOT, ...parts)
export const readRepoFile = (...parts: ReadonlyArray<string>) => readFileSync(repoPath(...parts), "utf8")

export interface RunResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a tool to completion (no shell). A missing tool fails with a message saying how to get it. */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv; readonly input?: string } = {}
): RunResult => {
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? process.env,
    input: options.input,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024
  })
  if (result.error) {
    throw new Error(
      `cannot run ${command}: ${result.error.message} (see .ci/run for how the checks' tools are installed)`
    )
  }
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** Every document of a YAML stream (anchors and `<<` merge keys resolved), empty documents dropped. */
export const parseYamlDocuments = (text: string): Array<Record<string, unknown>> =>
  parseAllDocuments(text, { merge: true }).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join("\n"))
    const value: unknown = doc.toJS({ maxAliasCount: -1 })
    return value === null || value === undefined ? [] : [value as Record<string, unknown>]
  })

/** `KEY=value` lines of an env file, in order (comments and blank lines skipped). */
export const parseEnvFile = (text: string): Array<{ key: string; value: string; documented: boolean }> => {
  const entries: Array<{ key: string; value: string; documented: boolean }> = []
  let previous = ""
  for (const line of text.split("\n")) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line)
    if (match) entries.push({ key: match[1]!, value: match[2]!, documented: previous.startsWith("# ") })
    previous = line
  }
  return entries
}

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : []
  })

/**
 * Every environment variable the app's processes read: the names given to the configuration readers in
 * packages/{infra,server,worker}/src — Config.ts's `variable`/`redacted`, Effect's `Config.*` and the
 * job settings' `seconds` (test-only helpers in Testing.ts read `process.env` and are not the app's).
 */
export const appVariables = (): ReadonlyArray<string> => {
  const names = new Set<string>()
  for (const file of ["infra", "server", "worker"].flatMap((p) => sourceFiles(repoPath("packages", p, "src")))) {
    const source = readFileSync(file, "utf8")
    for (const m of source.matchAll(/\b(?:variable|redacted|seconds|Config\.[a-zA-Z]+)\(\s*"([A-Z][A-Z0-9_]*)"/g)) {
      names.add(m[1]!)
    }
  }
  return [...names].sort()
}

export const freePort = () =>
  new Promise<number>((resolvePort, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() =>
        typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"))
      )
    })
  })

export interface Response {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
  readonly text: string
}

/** One HTTP/1.1 request from a chosen local address (127.0.0.x stands in for different clients). */
export const request = (
  url: string,
  options: {
    readonly method?: string
    readonly headers?: Record<string, string>
    readonly body?: Buffer | string
    readonly localAddress?: string
  } = {}
) =>
  new Promise<Response>((resolveResponse, reject) => {
    const req = http.request(
      url,
      {
        method: options.method ?? "GET",
        headers: {
          connection: "close",
          ...(options.body === undefined ? {} : { "content-length": String(Buffer.byteLength(options.body)) }),
          ...options.headers
        },
        localAddress: options.localAddress ?? "127.0.0.1",
        agent: false
      },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () => {
          const body = Buffer.concat(chunks)
          resolveResponse({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString("utf8") })
        })
        res.on("error", reject)
      }
    )
    req.on("error", reject)
    if (options.body !== undefined) req.end(options.body)
    else req.end()
  })

export const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      if (await check()) return
    } catch (error) {
      lastError = error
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`)
}

/** A child process whose output is kept (for assertions on log lines) and that is stopped at the end. */
export class Child {
  readonly output: Array<string> = []
  readonly exited: Promise<number | null>
  constructor(readonly process: ChildProcess) {
    const keep = (chunk: Buffer) =>
      this.output.push(
        ...chunk
          .toString("utf8")
          .split("\n")
          .filter((l) => l !== "")
      )
    process.stdout?.on("data", keep)
    process.stderr?.on("data", keep)
    this.exited = new Promise((r) => process.once("exit", (code) => r(code)))
  }
  /** JSON log lines. */
  get jsonLines(): Array<Record<string, unknown>> {
    return this.output.flatMap((line) => {
      try {
        const value: unknown = JSON.parse(line)
        return typeof value === "object" && value !== null ? [value as Record<string, unknown>] : []
      } catch {
        return []
      }
    })
  }
  async stop(signal: NodeJS.Signals = "SIGTERM") {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal)
    return this.exited
  }
}

export interface RunningServer {
  readonly url: string
  readonly port: number
  readonly child: Child
  readonly stop: () => Promise<number | null>
}

/**
 * The server from source (packages/server/src/main.ts, as `npm start` runs it) on `port` over `databaseUrl`,
 * in test mode with JSON logs, plus the given variables.
 */
export const spawnSourceServer = (port: number, databaseUrl: string, env: Record<string, string> = {}) =>
  new Child(
    spawn(process.execPath, ["--conditions=@shum/source", "--import", "tsx", "packages/server/src/main.ts"], {
      cwd: ROOT,
      env: {
        PATH: process.env["PATH"] ?? "/usr/bin:/bin",
        HOME: process.env["HOME"] ?? "/tmp",
        APP_ENV: "test",
        HOST: "127.0.0.1",
        PORT: String(port),
        DATABASE_URL: databaseUrl,
        JWT_SECRET_KEY: "deploy-checks-secret-key-0123456789abcdef",
        LOG_FORMAT_JSON: "true",
        ...env
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
  )

/** Waits for `url`/ready to answer 200, failing early (with the output) if the process ends. */
export const waitServerReady = (child: Child, url: string, what: string) =>
  waitFor(
    what,
    async () => {
      if (child.process.exitCode !== null) throw new Error(`server exited: ${child.output.slice(-20).join("\n")}`)
      return (await request(`${url}/ready`)).status === 200
    },
    60_000
  )

/**
 * The real server (packages/server/src/main.ts, run from source as `npm start` does) on a fresh
 * database of its own, in test mode plus the given variables. `stop` sends SIGTERM and drops the database.
 */
export const startServer = async (env: Record<string, string>): Promise<RunningServer> => {
  const scope = Effect.runSync(Scope.make())
  const database = await Effect.runPromise(Scope.extend(freshDatabase, scope))
  const port = await freePort()
  const child = spawnSourceServer(port, databaseUrl(database.name), env)
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    const code = await child.stop()
    await Effect.runPromise(Scope.close(scope, Exit.void))
    return code
  }
  try {
    await waitServerReady(child, url, "the server's /ready")
  } catch (error) {
    await stop()
    throw error
  }
  return { url, port, child, stop }
}

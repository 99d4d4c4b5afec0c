/**
 * The fuzz suite's target: the real server as a child process (`packages/server/src/main.ts` run from
 * source, as `npm start` does, with production's heap limit) on a fresh database of its own and the real
 * Redis, and a raw HTTP/1.1 client that sends exactly the bytes it is given and reads at most a bounded
 * part of the answer.
 */
import { databaseUrl, freshDatabase, randomName, REDIS_URL } from "@shum/infra/Testing"
import { Effect, Exit, Scope } from "effect"
import { Redis as IORedis } from "ioredis"
import { spawn, type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { connect, createServer } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..")

export interface Outcome {
  readonly status: number
  /** Lower-cased names; repeated headers joined with ", ". */
  readonly headers: Record<string, string>
  /** The first `KEEP` bytes of the body. */
  readonly body: Buffer
  /** The whole body's size in bytes. */
  readonly size: number
  readonly ms: number
  /** The server stopped reading the request body (it answered first, then closed the connection). */
  readonly cutShort: boolean
}

export interface Failure {
  readonly error: string
  readonly ms: number
  /** Bytes of the request the server took before the connection failed. */
  readonly written: number
}

const KEEP = 256 * 1024

export interface Request {
  readonly method: string
  /** Exactly as sent: escaped (or deliberately mis-escaped) by the caller. */
  readonly path: string
  readonly headers: Record<string, string>
  readonly body?: Buffer | undefined
}

const dechunk = (raw: Buffer): Buffer => {
  const parts: Array<Buffer> = []
  let at = 0
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", at)
    if (lineEnd < 0) break
    const size = parseInt(raw.subarray(at, lineEnd).toString("latin1"), 16)
    if (!Number.isFinite(size) || size === 0) break
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}

/** The answer in `raw` (after any interim 1xx), and whether all of its body is there; `undefined` before its head. */
const parseAnswer = (
  raw: Buffer
): { status: number; headers: Record<string, string>; body: Buffer; complete: boolean } | undefined => {
  let start = 0
  for (;;) {
    const headEnd = raw.indexOf("\r\n\r\n", start)
    if (headEnd < 0) return undefined
    const head = raw.subarray(start, headEnd).toString("latin1")
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)
    if (status === null) return undefined
    if (status[1]!.startsWith("1")) {
      start = headEnd + 4
      continue
    }
    const headers: Record<string, string> = {}
    for (const line of head.split("\r\n").slice(1)) {
      const colon = line.indexOf(":")
      if (colon <= 0) continue
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim()
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
    }
    const rest = raw.subarray(headEnd + 4)
    const code = Number(status[1])
    if (code === 204 || code === 304) return { status: code, headers, body: Buffer.alloc(0), complete: true }
    if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
      return {
        status: code,
        headers,
        body: dechunk(rest),
        complete: rest.includes("\r\n0\r\n\r\n") || rest.subarray(0, 5).equals(Buffer.from("0\r\n\r\n"))
      }
    }
    const length = headers["content-length"]
    if (length !== undefined) {
      return { status: code, headers, body: rest.subarray(0, Number(length)), complete: rest.length >= Number(length) }
    }
    return { status: code, headers, body: rest, complete: false }
  }
}

/**
 * One request on a connection of its own, written byte for byte on a raw socket, its answer read until
 * complete (then the client closes the connection). The body goes in pieces, and no further once an
 * answer has begun (`cutShort`: the server answered without reading it all). No answer at all within
 * `timeoutMs`, or a connection closed without one, is a `Failure`.
 */
const sendOnce = (port: number, request: Request, timeoutMs: number, headStartMs: number): Promise<Outcome | Failure> =>
  new Promise((resolveOutcome) => {
    const started = Date.now()
    const chunks: Array<Buffer> = []
    let writeFailed = false
    let written = 0
    let settled = false
    const socket = connect({ host: "127.0.0.1", port })
    const finish = (error?: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      const ms = Date.now() - started
      const answer = parseAnswer(Buffer.concat(chunks))
      if (answer === undefined) {
        resolveOutcome({ error: error ?? "the connection closed without an answer", ms, written })
        return
      }
      resolveOutcome({
        status: answer.status,
        headers: answer.headers,
        body: answer.body.subarray(0, KEEP),
        size: answer.body.length,
        ms,
        cutShort: writeFailed
      })
    }
    const timer = setTimeout(() => finish(`no answer within ${timeoutMs} ms`), timeoutMs)
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      if (parseAnswer(Buffer.concat(chunks))?.complete === true) finish()
    })
    socket.on("end", () => finish())
    socket.on("close", () => finish())
    socket.on("error", (error: NodeJS.ErrnoException) => {
      // EPIPE/ECONNRESET while writing: the server may have answered already; what was read counts
      writeFailed = true
      finish(`${error.code ?? "error"}: ${error.message}`)
    })
    const lines = [`${request.method} ${request.path} HTTP/1.1`, `host: 127.0.0.1:${port}`]
    if (request.body !== undefined) lines.push(`content-length: ${request.body.length}`)
    for (const [name, value] of Object.entries(request.headers)) lines.push(`${name}: ${value}`)
    socket.write(Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"))
    // the body in pieces, stopping as soon as the server has answered (it need not read the rest)
    const body = request.body ?? Buffer.alloc(0)
    const writeBody = async () => {
      // a server may answer from the head alone (a declared length over its limit): give it the chance
      // before the body is written into a connection it is about to close
      if (body.length > PIECE && headStartMs > 0) {
        await new Promise<void>((resume) => {
          const timer = setTimeout(resume, headStartMs)
          socket.once("data", () => {
            clearTimeout(timer)
            resume()
          })
        })
      }
      for (let at = 0; at < body.length && !settled; at += PIECE) {
        if (chunks.length > 0) {
          writeFailed = true
          return
        }
        const piece = body.subarray(at, at + PIECE)
        await new Promise<void>((resume) => {
          if (socket.write(piece)) resume()
          else {
            socket.once("drain", resume)
            socket.once("close", resume)
          }
        })
        written = at + piece.length
        // let an early answer be read before the next piece is written into a connection being closed
        await new Promise((r) => setImmediate(r))
      }
    }
    void writeBody()
  })

const PIECE = 64 * 1024

/**
 * One request on a connection of its own (`sendOnce`). A large body the server refused by closing the
 * connection while it was still being written (EPIPE or a reset, before its answer could be read) is sent
 * once more, this time waiting a second after the head for the answer before any of the body goes out.
 */
export const send = async (port: number, request: Request, timeoutMs = 15_000): Promise<Outcome | Failure> => {
  const first = await sendOnce(port, request, timeoutMs, 100)
  const body = request.body?.length ?? 0
  if (!isFailure(first) || body <= PIECE || !/^(EPIPE|ECONNRESET)/.test(first.error)) return first
  return sendOnce(port, request, timeoutMs, 1_000)
}

export const isFailure = (o: Outcome | Failure): o is Failure => "error" in o

const freePort = () =>
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

export const JWT_SECRET = "fuzz-suite-secret-key-0123456789abcdef-not-for-production"

export interface Target {
  readonly port: number
  readonly database: string
  readonly child: ChildProcess
  /** The last lines the server wrote (stdout and stderr), for a failure's message. */
  readonly output: () => string
  readonly alive: () => boolean
  readonly stop: () => Promise<void>
}

/** The real server, in test mode, with metrics on, on the real Redis (its image stream a key of its own). */
export const startTarget = async (): Promise<Target> => {
  const scope = Effect.runSync(Scope.make())
  const database = await Effect.runPromise(Scope.extend(freshDatabase, scope))
  const port = await freePort()
  const imageDir = mkdtempSync(join(tmpdir(), "shum-fuzz-images-"))
  const imageStream = randomName("shum:fuzz-images:")
  const lines: Array<string> = []
  const child = spawn(
    process.execPath,
    // production's heap limit (`npm run start:prod`): a request that makes the heap grow past it kills the process
    ["--max-old-space-size=256", "--conditions=@shum/source", "--import", "tsx", "packages/server/src/main.ts"],
    {
      cwd: ROOT,
      env: {
        PATH: process.env["PATH"] ?? "/usr/bin:/bin",
        HOME: process.env["HOME"] ?? "/tmp",
        APP_ENV: "test",
        HOST: "127.0.0.1",
        PORT: String(port),
        DATABASE_URL: databaseUrl(database.name),
        REDIS_URL,
        IMAGE_STREAM: imageStream,
        IMAGE_UPLOAD_WAIT_SECONDS: "0",
        IMAGE_DIR: imageDir,
        JWT_SECRET_KEY: JWT_SECRET,
        ENABLE_METRICS_IN_TESTS: "true",
        LOG_FORMAT_JSON: "true",
        LOG_LEVEL: "warning"
      },
      stdio: ["ignore", "pipe", "pipe"]
    }
  )
  const keep = (chunk: Buffer) => {
    lines.push(
      ...chunk
        .toString("utf8")
        .split("\n")
        .filter((l) => l !== "")
    )
    if (lines.length > 400) lines.splice(0, lines.length - 400)
  }
  child.stdout.on("data", keep)
  child.stderr.on("data", keep)
  const exited = new Promise<void>((r) => child.once("exit", () => r()))
  const alive = () => child.exitCode === null && child.signalCode === null
  const stop = async () => {
    if (alive()) child.kill("SIGTERM")
    await exited
    await Effect.runPromise(Scope.close(scope, Exit.void))
    rmSync(imageDir, { recursive: true, force: true })
    const redis = new IORedis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
    try {
      await redis.connect()
      const keys = await redis.keys(`${imageStream}*`)
      if (keys.length > 0) await redis.del(...keys)
    } finally {
      redis.disconnect()
    }
  }
  const output = () => lines.slice(-40).join("\n")
  const deadline = Date.now() + 90_000
  for (;;) {
    if (!alive()) {
      await stop()
      throw new Error(`the server exited while starting:\n${output()}`)
    }
    const ready = await send(port, { method: "GET", path: "/ready", headers: {} }, 5_000)
    if (!isFailure(ready) && ready.status === 200) break
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`the server did not become ready:\n${output()}`)
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  return { port, database: database.name, child, output, alive, stop }
}

/**
 * Helpers for the operations tests: captured log lines, the Prometheus text parsed, raw requests with
 * a chosen client address, and a private `redis-server` a test can kill.
 */
import { HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { formatJson } from "@shum/infra/Logging"
import { Duration, Effect, Layer, Logger, LogLevel, Schedule } from "effect"
import { spawn } from "node:child_process"
import { randomInt } from "node:crypto"
import { createServer } from "node:net"
import { Redis as IORedis } from "ioredis"

/** Every log line of the server, formatted as in production (JSON), from DEBUG up. */
export const captureLogs = () => {
  const lines: Array<string> = []
  const layer = Layer.mergeAll(
    Logger.replace(
      Logger.defaultLogger,
      Logger.make((options) => {
        lines.push(formatJson(options))
      })
    ),
    Logger.minimumLogLevel(LogLevel.All)
  )
  const entries = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  return { lines, layer, entries }
}

/** Waits (real time) until `find` returns something, up to 5 s. */
export const eventually = <A>(what: string, find: () => A | undefined): Effect.Effect<A> =>
  Effect.suspend(() => {
    const found = find()
    return found === undefined ? Effect.fail(what) : Effect.succeed(found)
  }).pipe(
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo(Duration.seconds(5)))),
    Effect.orDieWith((what) => new Error(`timed out waiting for ${what}`))
  )

/** The access-log line of the request with this `X-Request-Id`. */
export const accessLine = (entries: () => ReadonlyArray<Record<string, unknown>>, requestId: string) =>
  eventually(`the access log line of ${requestId}`, () =>
    entries().find((e) => e["logger"] === "http.access" && e["request_id"] === requestId)
  )

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** Prometheus text exposition → `# TYPE` declarations and samples. */
export const parseMetrics = (text: string) => {
  const types = new Map<string, string>()
  const samples: Array<Sample> = []
  for (const line of text.split("\n")) {
    if (line.startsWith("# TYPE ")) {
      const [, , name = "", type = ""] = line.split(" ")
      types.set(name, type)
    } else if (line !== "" && !line.startsWith("#")) {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
      if (match === null) continue
      const labels: Record<string, string> = {}
      for (const [, key = "", value = ""] of (match[2] ?? "").matchAll(
        /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g
      )) {
        labels[key] = value
      }
      samples.push({ name: match[1]!, labels, value: Number(match[3]) })
    }
  }
  return { types, samples, find: (name: string) => samples.filter((s) => s.name === name) }
}

export const scrape = Effect.flatMap(HttpClient.HttpClient, (http) => http.get("/metrics")).pipe(
  Effect.flatMap((response) => response.text),
  Effect.map(parseMetrics)
)

/** A documentation-range IPv6 address (2001:db8::/32), different for each call. */
export const randomIp = () => `2001:db8::${randomInt(1, 0xffff).toString(16)}:${randomInt(1, 0xffff).toString(16)}`

/** A request as if from `client` behind a trusted proxy (the test client connects from loopback). */
export const requestFrom = (
  client: string,
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, HttpClient.HttpClient> =>
  Effect.flatMap(HttpClient.HttpClient, (http) =>
    http.execute(HttpClientRequest.setHeader(request, "x-forwarded-for", client))
  )

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

/** A `redis-server` of the test's own on a free port, killed when the scope closes (or by `kill`). */
export const privateRedis = Effect.acquireRelease(
  Effect.promise(async () => {
    const port = await freePort()
    const child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      {
        stdio: "ignore"
      }
    )
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    const deadline = Date.now() + 10_000
    for (;;) {
      const client = new IORedis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 })
      client.on("error", () => {})
      const up = await client.connect().then(
        () => client.ping().then(() => true),
        () => false
      )
      client.disconnect()
      if (up) break
      if (Date.now() > deadline) throw new Error("redis-server did not start")
      await new Promise((r) => setTimeout(r, 100))
    }
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      return exited
    }
    return { port, url: `redis://127.0.0.1:${port}`, kill }
  }),
  (redis) => Effect.promise(() => redis.kill())
)

/**
 * docs/operations.md §2 (`HTTP_HEADERS_TIMEOUT_SECONDS`, `HTTP_REQUEST_TIMEOUT_SECONDS`,
 * `HTTP_KEEP_ALIVE_TIMEOUT_SECONDS`, `HTTP_SEND_TIMEOUT_SECONDS`): the real Node server of `NodeServer.ts`, driven with raw sockets. A client
 * that sends its headers a line at a time (slowloris), or its body a byte at a time, is answered 408 and cut
 * off once its time is up; an idle kept-alive connection is closed; a client that stops reading a large answer
 * is cut off (`HTTP_SEND_TIMEOUT_SECONDS`), one that reads it slowly is not; a prompt client is served as usual.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, layer } from "@effect/vitest"
import { AppConfig } from "@shum/infra/Config"
import { Effect, Layer } from "effect"
import { connect, type Socket } from "node:net"
import { Metrics, MetricsLive } from "../src/Metrics.js"
import { NodeServerLive } from "../src/NodeServer.js"
import { accessLine, captureLogs, parseMetrics } from "./OpsSupport.js"
import { configProvider } from "./support.js"

/** Far more than the kernel's socket buffers on both sides take (loopback: a few MiB each). */
const BIG = 32 * 1024 * 1024
const big = new Uint8Array(BIG).fill(0x61)

/** An app that reads the whole body, as the API's do, then answers `ok` — or, at `/big`, `BIG` bytes. */
const readsTheBody = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
  Effect.as(request.text, request.url === "/big" ? HttpServerResponse.uint8Array(big) : HttpServerResponse.text("ok"))
).pipe(Effect.orDie)

const logs = captureLogs()

const serverWith = (timeouts: Record<string, string>) =>
  HttpServer.serve(readsTheBody).pipe(
    Layer.provideMerge(NodeServerLive),
    Layer.provideMerge(MetricsLive),
    Layer.provide(logs.layer),
    Layer.provide(AppConfig.Default),
    Layer.provide(
      Layer.setConfigProvider(
        configProvider({
          DATABASE_URL: "postgres://unused",
          HOST: "127.0.0.1",
          PORT: "0",
          ENABLE_METRICS_IN_TESTS: "true",
          ...timeouts
        })
      )
    )
  )

const Server = serverWith({
  HTTP_HEADERS_TIMEOUT_SECONDS: "1",
  HTTP_REQUEST_TIMEOUT_SECONDS: "2",
  HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: "1",
  HTTP_SEND_TIMEOUT_SECONDS: "1"
})

interface Conversation {
  /** Everything the server sent. */
  readonly received: string
  /** Milliseconds from the connection to its close by the server. */
  readonly closedAfter: number
}

/**
 * A raw connection that writes `chunks` one every `every` ms (and nothing after them), until the server closes
 * it; gives up (fails the test) after `giveUpMs`. The client never ends its own side (`allowHalfOpen`): once the
 * server's end arrives it keeps writing a byte every 100 ms, so only a server that really closed its socket
 * (the writes then refused) ends the conversation — one that merely ended its side would keep a silent
 * client's socket for good.
 */
const converse = (port: number, chunks: ReadonlyArray<string>, every: number, giveUpMs = 10_000) =>
  Effect.async<Conversation, Error>((resume) => {
    const started = Date.now()
    let received = ""
    const socket: Socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true })
    let next = 0
    let probe: ReturnType<typeof setInterval> | undefined
    const timer = setInterval(() => {
      if (next < chunks.length && socket.writable) socket.write(chunks[next++]!)
    }, every)
    const giveUp = setTimeout(() => {
      socket.destroy()
      resume(Effect.fail(new Error(`still open after ${giveUpMs} ms; received: ${JSON.stringify(received)}`)))
    }, giveUpMs)
    socket.on("data", (data) => (received += data.toString("latin1")))
    socket.on("error", () => {})
    socket.on("end", () => {
      probe = setInterval(() => socket.writable && socket.write("\r\n"), 100)
    })
    socket.on("close", () => {
      clearInterval(probe)
      clearInterval(timer)
      clearTimeout(giveUp)
      resume(Effect.succeed({ received, closedAfter: Date.now() - started }))
    })
    return Effect.sync(() => {
      clearInterval(probe)
      clearInterval(timer)
      clearTimeout(giveUp)
      socket.destroy()
    })
  })

/**
 * Asks for `/big` on a raw connection. The client then reads nothing for `pauseAfterRequestMs`; after that it
 * reads as fast as it can — or, with `bytesPerTick`, that many bytes each 100 ms (a slow reader that never stops)
 * — until the server ends the connection, or the answer is whole (then it closes itself).
 */
const readBig = (port: number, options: { readonly pauseAfterRequestMs: number; readonly bytesPerTick?: number }) =>
  Effect.async<{ bytes: number; headerBytes: number; ended: boolean; tookMs: number }, Error>((resume) => {
    const started = Date.now()
    let bytes = 0
    let tickBytes = 0
    let headerBytes = -1
    let head = ""
    const socket: Socket = connect({ port, host: "127.0.0.1" })
    socket.on("error", () => {})
    socket.pause()
    socket.write("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    let ticks: ReturnType<typeof setInterval> | undefined
    const start = setTimeout(() => {
      socket.resume()
      if (options.bytesPerTick !== undefined) {
        ticks = setInterval(() => {
          tickBytes = 0
          socket.resume()
        }, 100)
      }
    }, options.pauseAfterRequestMs)
    const giveUp = setTimeout(() => {
      socket.destroy()
      resume(Effect.fail(new Error(`no end after 30 s; ${bytes} bytes`)))
    }, 30_000)
    const stop = () => {
      clearTimeout(start)
      clearTimeout(giveUp)
      clearInterval(ticks)
      socket.destroy()
    }
    const finish = (ended: boolean) => {
      stop()
      resume(Effect.succeed({ bytes, headerBytes, ended, tookMs: Date.now() - started }))
    }
    socket.on("data", (data: Buffer) => {
      bytes += data.length
      tickBytes += data.length
      if (headerBytes < 0) {
        head += data.toString("latin1", 0, Math.min(data.length, 1024))
        const end = head.indexOf("\r\n\r\n")
        if (end >= 0) headerBytes = end + 4
      }
      if (headerBytes >= 0 && bytes >= BIG + headerBytes) finish(false)
      else if (options.bytesPerTick !== undefined && tickBytes >= options.bytesPerTick) socket.pause()
    })
    socket.on("end", () => finish(true))
    socket.on("close", () => finish(true))
    return Effect.sync(stop)
  })

const port = Effect.flatMap(HttpServer.HttpServer, (server) =>
  server.address._tag === "TcpAddress" ? Effect.succeed(server.address.port) : Effect.dieMessage("not TCP")
)

/** Header lines, endlessly many: a slowloris never finishes its headers. */
const endlessHeaders = ["GET / HTTP/1.1\r\nHost: x\r\n", ...Array.from({ length: 200 }, (_, i) => `X-Slow-${i}: y\r\n`)]

layer(Server, { timeout: "60 seconds" })("slow clients (docs/operations.md §2)", (it) => {
  it.effect("headers sent a line at a time: 408 and closed once HTTP_HEADERS_TIMEOUT_SECONDS is up", () =>
    Effect.gen(function* () {
      const talk = yield* converse(yield* port, endlessHeaders, 100)
      assert.match(talk.received, /^HTTP\/1\.1 408 /)
      // 1 s, checked every second
      assert.isAtLeast(talk.closedAfter, 900)
      assert.isAtMost(talk.closedAfter, 3500)
    })
  )

  it.effect("a connection that sends nothing is closed too", () =>
    Effect.gen(function* () {
      const talk = yield* converse(yield* port, [], 100)
      assert.isAtMost(talk.closedAfter, 3500)
    })
  )

  it.effect("a body sent a byte at a time: 408 and closed once HTTP_REQUEST_TIMEOUT_SECONDS is up", () =>
    Effect.gen(function* () {
      const head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
      const talk = yield* converse(yield* port, [head, ...Array.from({ length: 999 }, () => " ")], 100)
      assert.match(talk.received, /^HTTP\/1\.1 408 /)
      assert.isAtLeast(talk.closedAfter, 1900)
      assert.isAtMost(talk.closedAfter, 4500)
    })
  )

  it.effect("the server's own refusals are problem documents: 408, a malformed request 400, huge headers 431", () =>
    Effect.gen(function* () {
      const problemOf = (talk: Conversation) => {
        const [head, body] = talk.received.split("\r\n\r\n", 2)
        assert.match(head!, /\r\ncontent-type: application\/problem\+json\r\n/i)
        assert.match(head!, /\r\nconnection: close(\r\n|$)/i)
        assert.match(head!, /\r\nx-content-type-options: nosniff(\r\n|$)/i)
        return JSON.parse(body!) as Record<string, unknown>
      }
      const slow = yield* converse(yield* port, endlessHeaders, 100)
      assert.deepStrictEqual(problemOf(slow), {
        type: "/problems/request-timeout",
        title: "Request Timeout",
        status: 408,
        detail: "Request Timeout"
      })
      const malformed = yield* converse(yield* port, ["GET /\x01 HTTP/1.1\r\n\r\n"], 10)
      assert.match(malformed.received, /^HTTP\/1\.1 400 /)
      assert.deepStrictEqual(problemOf(malformed), {
        type: "/problems/bad-request",
        title: "Bad Request",
        status: 400,
        detail: "Invalid HTTP request received."
      })
      const huge = yield* converse(
        yield* port,
        [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`],
        10
      )
      assert.match(huge.received, /^HTTP\/1\.1 431 /)
      assert.deepInclude(problemOf(huge), { type: "/problems/request-header-fields-too-large", status: 431 })
    })
  )

  it.effect("each refusal has its X-Request-Id, an access-log line and is counted in api_requests_total", () =>
    Effect.gen(function* () {
      const refused = (text: string) =>
        parseMetrics(text).samples.find(
          (s) =>
            s.name === "api_requests_total" &&
            s.labels["endpoint"] === "unmatched" &&
            s.labels["method"] === "-" &&
            s.labels["status"] === "400"
        )?.value ?? 0
      const metrics = yield* Metrics
      const before = refused(yield* metrics.exposition)
      const talk = yield* converse(yield* port, ["GET /\x01 HTTP/1.1\r\n\r\n"], 10)
      const id = /\r\nx-request-id: ([0-9a-f-]{36})\r\n/i.exec(talk.received)?.[1]
      assert.isDefined(id, talk.received)
      const line = yield* accessLine(logs.entries, id!)
      assert.deepInclude(line, { level: "INFO", status: 400, error_code: "HPE_INVALID_URL", client_ip: "127.0.0.1" })
      assert.strictEqual(refused(yield* metrics.exposition), before + 1)
    })
  )

  it.effect("a prompt request is answered; its idle kept-alive connection closes after the keep-alive time", () =>
    Effect.gen(function* () {
      const talk = yield* converse(yield* port, ["GET / HTTP/1.1\r\nHost: x\r\n\r\n"], 10)
      assert.match(talk.received, /^HTTP\/1\.1 200 /)
      assert.include(talk.received, "\r\n\r\nok")
      assert.isAtLeast(talk.closedAfter, 900)
      assert.isAtMost(talk.closedAfter, 3500)
    })
  )
  it.effect("a client that stops reading a large answer is cut off after HTTP_SEND_TIMEOUT_SECONDS", () =>
    Effect.gen(function* () {
      const got = yield* readBig(yield* port, { pauseAfterRequestMs: 3000 })
      // the server dropped what it had not handed to the kernel: the client gets less than the answer, then the end
      assert.isBelow(got.bytes, BIG)
      assert.isTrue(got.ended)
    })
  )

  it.effect("a client that reads a large answer slowly, but keeps reading, gets all of it", () =>
    Effect.gen(function* () {
      // 2 MiB each 100 ms: 1.6 s in all, longer than the send timeout, never a second without a byte
      const got = yield* readBig(yield* port, { pauseAfterRequestMs: 0, bytesPerTick: 2 * 1024 * 1024 })
      assert.strictEqual(got.bytes, BIG + got.headerBytes)
      assert.isAbove(got.tookMs, 1200)
    })
  )
})

// the send timeout shorter than the headers' (a review finding): a connection still sending its headers is timed
// by the headers' bound alone, and answered 408 — not cut silently by the send timeout
layer(
  serverWith({
    HTTP_HEADERS_TIMEOUT_SECONDS: "3",
    HTTP_REQUEST_TIMEOUT_SECONDS: "3",
    HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: "1",
    HTTP_SEND_TIMEOUT_SECONDS: "1"
  }),
  { timeout: "60 seconds" }
)("a send timeout shorter than the headers timeout", (it) => {
  it.effect("headers sent a line at a time still get their 408 after HTTP_HEADERS_TIMEOUT_SECONDS", () =>
    Effect.gen(function* () {
      const talk = yield* converse(yield* port, endlessHeaders, 100)
      assert.match(talk.received, /^HTTP\/1\.1 408 /)
      assert.isAtLeast(talk.closedAfter, 2900)
    })
  )

  it.effect("an answer left unread is still cut after HTTP_SEND_TIMEOUT_SECONDS", () =>
    Effect.gen(function* () {
      const got = yield* readBig(yield* port, { pauseAfterRequestMs: 3000 })
      assert.isBelow(got.bytes, BIG)
      assert.isTrue(got.ended)
    })
  )
})

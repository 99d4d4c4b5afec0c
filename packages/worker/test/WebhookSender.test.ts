/**
 * The webhook request itself (docs/decisions.md D16) against a real HTTP receiver: a receiver that answers
 * with an endless body costs the sender a bounded read, not memory without end; requests reuse a kept-alive
 * connection; the lookup refuses a name resolving to a forbidden address every time, and reuses an allowed one's.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { guardedLookup, MAX_RESPONSE_BYTES, WebhookSender, WebhookSenderLive } from "../src/WebhookSender.js"

/** A receiver answering 200 with a body that never ends; counts what it managed to write. */
const endlessReceiver = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly written: () => number }>((resume) => {
    let written = 0
    const chunk = Buffer.alloc(64 * 1024, 120)
    const server = createServer((request, response) => {
      request.resume()
      response.writeHead(200, { "content-type": "text/plain" })
      const pump = () => {
        while (!response.destroyed && response.write(chunk)) written += chunk.length
        if (!response.destroyed) response.once("drain", pump)
      }
      pump()
    })
    server.listen(0, "127.0.0.1", () =>
      resume(
        Effect.succeed(
          Object.assign(server, {
            url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
            written: () => written
          })
        )
      )
    )
  }),
  (server) =>
    Effect.async<void>((resume) => {
      ;(server as unknown as ReturnType<typeof createServer>).closeAllConnections()
      ;(server as unknown as ReturnType<typeof createServer>).close(() => resume(Effect.void))
    })
)

describe("WebhookSender", () => {
  it.scopedLive("an endless answer: delivered on its status, the body read only up to the bound", () =>
    Effect.gen(function* () {
      const receiver = yield* endlessReceiver
      const sender = yield* Effect.provide(
        WebhookSender,
        WebhookSenderLive({ allowedHosts: ["127.0.0.1"], timeout: Duration.seconds(5) })
      )
      const before = process.memoryUsage().rss
      const outcome = yield* sender.send({ url: receiver.url, id: "msg_endless", body: "{}", secrets: ["c2VjcmV0"] })
      assert.isTrue(outcome.ok, JSON.stringify(outcome))
      assert.strictEqual(outcome.status, 200)
      assert.isBelow(outcome.durationMs, 4_000, "not held until the timeout")
      // what the receiver wrote before the connection closed: the bound plus socket buffers, never hundreds of MB
      yield* Effect.sleep("200 millis")
      assert.isBelow(receiver.written(), 16 * 1024 * 1024 + MAX_RESPONSE_BYTES, "the connection was closed")
      assert.isBelow(process.memoryUsage().rss - before, 64 * 1024 * 1024)
    })
  )

  it.scopedLive("requests one after another reuse one kept-alive connection; each answer's status counts", () =>
    Effect.gen(function* () {
      const receiver = yield* Effect.acquireRelease(
        Effect.async<{ readonly server: ReturnType<typeof createServer>; readonly connections: () => number }>(
          (resume) => {
            let connections = 0
            let n = 0
            const server = createServer((request, response) => {
              request.resume()
              request.on("end", () => response.writeHead(++n % 2 === 0 ? 503 : 204).end())
            })
            server.on("connection", () => connections++)
            server.keepAliveTimeout = 10_000
            server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, connections: () => connections })))
          }
        ),
        ({ server }) =>
          Effect.async<void>((resume) => {
            server.closeAllConnections()
            server.close(() => resume(Effect.void))
          })
      )
      const url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}/hook`
      const sender = yield* Effect.provide(
        WebhookSender,
        WebhookSenderLive({ allowedHosts: ["127.0.0.1"], timeout: Duration.seconds(5) })
      )
      const outcomes = []
      for (let i = 0; i < 6; i++) {
        outcomes.push(yield* sender.send({ url, id: `msg_${i}`, body: "{}", secrets: ["c2VjcmV0"] }))
      }
      assert.deepStrictEqual(
        outcomes.map((o) => [o.ok, o.status, o.error]),
        [1, 2, 3, 4, 5, 6].map((n) => (n % 2 === 0 ? [false, 503, "status 503"] : [true, 204, null]))
      )
      assert.strictEqual(receiver.connections(), 1)
    })
  )

  it.scopedLive(
    "a request node:http refuses to make (an invalid header): a failed attempt, no timer left to crash",
    () =>
      Effect.gen(function* () {
        const uncaught: Array<unknown> = []
        const record = (error: unknown) => uncaught.push(error)
        yield* Effect.acquireRelease(
          Effect.sync(() => process.prependListener("uncaughtException", record)),
          () => Effect.sync(() => process.removeListener("uncaughtException", record))
        )
        const sender = yield* Effect.provide(
          WebhookSender,
          WebhookSenderLive({ allowedHosts: ["127.0.0.1"], timeout: Duration.millis(100) })
        )
        // a newline in `webhook-id`: http.request throws synchronously (ERR_INVALID_CHAR)
        const outcome = yield* sender.send({
          url: "http://127.0.0.1:9/hook",
          id: "msg\nbroken",
          body: "{}",
          secrets: ["c2VjcmV0"]
        })
        assert.isFalse(outcome.ok)
        assert.isNull(outcome.status)
        assert.match(outcome.error ?? "", /Invalid character in header content/)
        // past the timeout: the timer (had one been started) would have fired by now
        yield* Effect.sleep("300 millis")
        assert.deepStrictEqual(uncaught, [])
      })
  )

  it.effect(
    "the lookup: a name resolving to loopback refused every time; an allowed name's checked addresses reused",
    () =>
      Effect.gen(function* () {
        const ask = (lookup: ReturnType<typeof guardedLookup>, hostname: string) =>
          Effect.async<{ readonly error: string | null; readonly address: string }>((resume) =>
            lookup(hostname, {}, (error, address) =>
              resume(Effect.succeed({ error: error === null ? null : error.message, address: String(address) }))
            )
          )
        const refusing = guardedLookup([])
        for (let i = 0; i < 2; i++) {
          const answer = yield* ask(refusing, "localhost")
          assert.match(answer.error ?? "", /localhost resolves to .*loopback.*refused/)
        }
        const allowing = guardedLookup(["localhost"], 60_000)
        const first = yield* ask(allowing, "localhost")
        const again = yield* ask(allowing, "localhost")
        assert.isNull(first.error)
        assert.strictEqual(again.address, first.address)
        // a separate lookup (another sender) does not share the allowed one's addresses: still refused
        assert.isNotNull((yield* ask(refusing, "localhost")).error)
      })
  )
})

/**
 * The webhook request itself (docs/decisions.md D16) against a real HTTP receiver: a receiver that answers
 * with an endless body costs the sender a bounded read, not memory without end; requests reuse a kept-alive
 * connection; the lookup refuses a name resolving to a forbidden address every time, and reuses an allowed one's
 * checked addresses for `LOOKUP_TTL_MS`, no longer (a counting fake resolver and clock).
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { createServer } from "node:http"
import type { LookupAddress } from "node:dns"
import { type AddressInfo, isIP, type LookupFunction } from "node:net"
import {
  guardedLookup,
  LOOKUP_TTL_MS,
  MAX_RESPONSE_BYTES,
  type Resolver,
  WebhookSender,
  WebhookSenderLive
} from "../src/WebhookSender.js"

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

/** One connection's lookup: its error's message or the address it gives (`family` 0: any). */
const ask = (lookup: LookupFunction, hostname: string, family = 0) =>
  Effect.async<{ readonly error: string | null; readonly address: string }>((resume) =>
    lookup(hostname, { family }, (error, address) =>
      resume(Effect.succeed({ error: error === null ? null : error.message, address: String(address) }))
    )
  )

/**
 * A resolver answering each name with `answers[name]` (asynchronously, as `dns.lookup`; ENOTFOUND for a name it
 * does not know), counting its calls, and a clock that moves only when told.
 */
const fakeDns = (initial: Record<string, ReadonlyArray<string>>) => {
  const answers: Record<string, ReadonlyArray<string>> = { ...initial }
  let calls = 0
  let clock = 1_800_000_000_000
  const resolve: Resolver = (hostname, options, callback) => {
    calls++
    assert.isTrue(options.all, "every address is asked for, to check them all")
    const found = answers[hostname]
    setImmediate(() =>
      found === undefined
        ? callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), [])
        : callback(
            null,
            found.map((address) => ({ address, family: isIP(address) }))
          )
    )
  }
  return {
    answers,
    resolve,
    now: () => clock,
    advance: (ms: number) => void (clock += ms),
    calls: () => calls
  }
}

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

  it.effect("the lookup with the system's resolver: a name resolving to loopback is refused every time", () =>
    Effect.gen(function* () {
      const refusing = guardedLookup([])
      for (let i = 0; i < 2; i++) {
        const answer = yield* ask(refusing, "localhost")
        assert.match(answer.error ?? "", /localhost resolves to .*loopback.*refused/)
      }
    })
  )

  it.effect("the lookup's cache: a name's checked addresses reused for LOOKUP_TTL_MS, resolved again after", () =>
    Effect.gen(function* () {
      const dns = fakeDns({ "hooks.example.com": ["93.184.216.34"] })
      const lookup = guardedLookup([], LOOKUP_TTL_MS, dns.resolve, dns.now)
      assert.deepStrictEqual(yield* ask(lookup, "hooks.example.com"), { error: null, address: "93.184.216.34" })
      assert.strictEqual(dns.calls(), 1)
      // within the TTL: the checked address again, the resolver not asked (even though it now answers otherwise)
      dns.answers["hooks.example.com"] = ["93.184.216.35"]
      dns.advance(LOOKUP_TTL_MS - 1)
      assert.deepStrictEqual(yield* ask(lookup, "hooks.example.com"), { error: null, address: "93.184.216.34" })
      assert.strictEqual(dns.calls(), 1)
      // at the TTL: resolved (and checked) again
      dns.advance(1)
      assert.deepStrictEqual(yield* ask(lookup, "hooks.example.com"), { error: null, address: "93.184.216.35" })
      assert.strictEqual(dns.calls(), 2)
      // each address family is its own entry; `all` answers every checked address
      const all = yield* Effect.async<Array<LookupAddress>>((resume) =>
        lookup("hooks.example.com", { all: true }, (_, addresses) =>
          resume(Effect.succeed(addresses as unknown as Array<LookupAddress>))
        )
      )
      assert.deepStrictEqual(all, [{ address: "93.184.216.35", family: 4 }])
      assert.strictEqual(dns.calls(), 2)
      yield* ask(lookup, "hooks.example.com", 4)
      assert.strictEqual(dns.calls(), 3)
      // a failed resolution is not kept either
      const missing = yield* ask(lookup, "missing.example.com")
      assert.match(missing.error ?? "", /ENOTFOUND/)
      yield* ask(lookup, "missing.example.com")
      assert.strictEqual(dns.calls(), 5)
    })
  )

  it.effect("the lookup's cache: a refusal is never kept — the resolver is asked on every connection", () =>
    Effect.gen(function* () {
      const dns = fakeDns({
        "internal.example.com": ["10.0.0.7"],
        "mixed.example.com": ["93.184.216.34", "192.168.1.1"]
      })
      const lookup = guardedLookup([], LOOKUP_TTL_MS, dns.resolve, dns.now)
      for (let i = 1; i <= 3; i++) {
        const answer = yield* ask(lookup, "internal.example.com")
        assert.strictEqual(answer.error, "internal.example.com resolves to 10.0.0.7, a private address: refused")
        assert.strictEqual(dns.calls(), i)
      }
      // one forbidden address among public ones refuses the name, every time
      for (let i = 1; i <= 2; i++) {
        const answer = yield* ask(lookup, "mixed.example.com")
        assert.strictEqual(answer.error, "mixed.example.com resolves to 192.168.1.1, a private address: refused")
        assert.strictEqual(dns.calls(), 3 + i)
      }
      // once the name resolves to a public address it is accepted (nothing of the refusal was kept)
      dns.answers["internal.example.com"] = ["93.184.216.34"]
      assert.deepStrictEqual(yield* ask(lookup, "internal.example.com"), { error: null, address: "93.184.216.34" })
      assert.strictEqual(dns.calls(), 6)
      // a host in WEBHOOK_ALLOWED_HOSTS may resolve to a private address; that answer is kept as any other
      const allowing = guardedLookup(["internal.example.com"], LOOKUP_TTL_MS, dns.resolve, dns.now)
      dns.answers["internal.example.com"] = ["10.0.0.7"]
      assert.deepStrictEqual(yield* ask(allowing, "internal.example.com"), { error: null, address: "10.0.0.7" })
      assert.deepStrictEqual(yield* ask(allowing, "internal.example.com"), { error: null, address: "10.0.0.7" })
      assert.strictEqual(dns.calls(), 7)
      // another lookup (another sender) shares nothing with it: its own checked address, then refused
      assert.deepStrictEqual(yield* ask(lookup, "internal.example.com"), { error: null, address: "93.184.216.34" })
      dns.advance(LOOKUP_TTL_MS)
      assert.strictEqual(
        (yield* ask(lookup, "internal.example.com")).error,
        "internal.example.com resolves to 10.0.0.7, a private address: refused"
      )
      assert.strictEqual(dns.calls(), 8)
    })
  )

  it.effect(
    "the lookup's cache: no rebinding past the TTL — a name that turns to the metadata address is refused",
    () =>
      Effect.gen(function* () {
        const dns = fakeDns({ "rebind.example.com": ["93.184.216.34"] })
        const lookup = guardedLookup([], LOOKUP_TTL_MS, dns.resolve, dns.now)
        assert.deepStrictEqual(yield* ask(lookup, "rebind.example.com"), { error: null, address: "93.184.216.34" })
        dns.answers["rebind.example.com"] = ["169.254.169.254"]
        // within the TTL the connection still goes to the address that was checked, never to the new one
        dns.advance(LOOKUP_TTL_MS - 1)
        assert.deepStrictEqual(yield* ask(lookup, "rebind.example.com"), { error: null, address: "93.184.216.34" })
        // past it: the new answer is checked, and refused
        dns.advance(1)
        const rebound = yield* ask(lookup, "rebind.example.com")
        assert.strictEqual(rebound.error, "rebind.example.com resolves to 169.254.169.254, a metadata address: refused")
        // and the public address checked before is gone: refused again, the resolver asked again
        const again = yield* ask(lookup, "rebind.example.com")
        assert.strictEqual(again.error, rebound.error)
        assert.strictEqual(dns.calls(), 3)
        dns.answers["rebind.example.com"] = ["127.0.0.1"]
        assert.match(
          (yield* ask(lookup, "rebind.example.com")).error ?? "",
          /127\.0\.0\.1, a loopback address: refused/
        )
        assert.strictEqual(dns.calls(), 4)
      })
  )
})

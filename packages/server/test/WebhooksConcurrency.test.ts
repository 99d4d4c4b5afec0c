/**
 * Concurrent webhook delivery (docs/decisions.md D16): a receiver that stalls holds its own slots only —
 * another subscription's events arrive at once, long before the stalled requests time out — while each
 * subscription still gets one entity's events one at a time and in order. The real server and PostgreSQL,
 * the dispatcher the server runs in-process, and a real HTTP receiver started by the test.
 */
import { assert, layer } from "@effect/vitest"
import { Outbox } from "@shum/infra/Outbox"
import { perSubscriptionLimit } from "@shum/worker/WebhookDispatcher"
import { Effect, Layer } from "effect"
import { InProcessWebhookDispatcherLive } from "../src/Webhooks/WebhooksWorker.js"
import { clientWithToken, makeTestServer, signIn } from "./support.js"
import { startReceiver, type Received } from "./WebhookReceiver.js"

const CONCURRENCY = 4
const ENV = {
  WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
  WEBHOOK_RETRY_BASE_SECONDS: "0",
  WEBHOOK_TIMEOUT_SECONDS: "10",
  WEBHOOK_LEASE_SECONDS: "20",
  WEBHOOK_POLL_MS: "20",
  WEBHOOK_CONCURRENCY: String(CONCURRENCY)
}
const TestServer = InProcessWebhookDispatcherLive.pipe(Layer.provideMerge(makeTestServer(ENV)))

const waitUntil = <A>(what: string, check: Effect.Effect<A | undefined>, ms = 15_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + ms
    for (;;) {
      const value = yield* check
      if (value !== undefined) return value
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* Effect.sleep("20 millis")
    }
  })

const event = (received: Received) => JSON.parse(received.body) as { type: string; data: { id: number; seq: number } }

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("concurrent webhook delivery", (it) => {
  it.scoped("a stalled receiver holds up no other subscription; one entity's events stay sequential and in order", () =>
    Effect.gen(function* () {
      const receiver = yield* startReceiver
      receiver.respond = (request) => (request.path === "/stalled" ? "hang" : 200)
      const api = yield* Effect.flatMap(signIn("admin"), (who) => clientWithToken(who.token))
      for (const path of ["/stalled", "/prompt"]) {
        yield* api.webhooks.create({ payload: { url: receiver.url(path), events: ["room.*"] } })
      }
      const at = (path: string) => receiver.received.filter((r) => r.path === path).map(event)
      const outbox = yield* Outbox
      const started = Date.now()
      // rooms 1 … 6 once each, then room 1 twice more: eight events, six entities
      for (let id = 1; id <= 6; id++) yield* outbox.record("room.updated", { id, hotel_id: 1, seq: 1 })
      for (const seq of [2, 3]) yield* outbox.record("room.updated", { id: 1, hotel_id: 1, seq })

      // the prompt receiver has every event while the stalled one's requests still hang (10 s timeout)
      yield* waitUntil(
        "the prompt receiver's eight events",
        Effect.sync(() => (at("/prompt").length === 8 ? true : undefined))
      )
      assert.isBelow(Date.now() - started, 8_000)
      assert.deepStrictEqual(
        at("/prompt")
          .filter((e) => e.data.id === 1)
          .map((e) => e.data.seq),
        [1, 2, 3]
      )
      // the stalled subscription holds at most its share of the slots, never two of one entity at once
      const stalled = at("/stalled")
      assert.strictEqual(stalled.length, perSubscriptionLimit(CONCURRENCY))
      assert.strictEqual(new Set(stalled.map((e) => e.data.id)).size, stalled.length)
      assert.deepStrictEqual(
        stalled.map((e) => e.data.seq),
        stalled.map(() => 1)
      )

      // the receiver recovers: the rest arrive, room 1's three in order, each after the previous was answered
      receiver.respond = () => 200
      assert.strictEqual(receiver.release(200), stalled.length)
      yield* waitUntil(
        "the stalled receiver's eight events",
        Effect.sync(() => (at("/stalled").length === 8 ? true : undefined))
      )
      assert.deepStrictEqual(
        at("/stalled")
          .filter((e) => e.data.id === 1)
          .map((e) => e.data.seq),
        [1, 2, 3]
      )
      assert.deepStrictEqual([...new Set(at("/stalled").map((e) => e.data.id))].sort(), [1, 2, 3, 4, 5, 6])
    })
  )
})

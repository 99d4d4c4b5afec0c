/**
 * Webhook delivery (docs/decisions.md D16) end to end: the real server and PostgreSQL, the dispatcher the
 * server runs in-process, and a real HTTP receiver started by the test. Events arrive signed and verifiable;
 * a receiver that fails gets the event after it recovers, in order per entity, once for an idempotent
 * receiver; retries run out into `dead` and a disabled subscription; rotation signs with both secrets; the
 * SSRF rules hold at delivery time; no redirect is followed; a silent receiver times out.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Outbox } from "@shum/infra/Outbox"
import { verify } from "@shum/infra/WebhookSigning"
import { Effect, Layer } from "effect"
import { Metrics } from "../src/Metrics.js"
import { InProcessWebhookDispatcherLive } from "../src/Webhooks/WebhooksWorker.js"
import { clientWithToken, makeTestServer, signIn } from "./support.js"
import { startReceiver, type Received, type Receiver } from "./WebhookReceiver.js"

const ENV = {
  WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
  WEBHOOK_RETRY_BASE_SECONDS: "0",
  WEBHOOK_MAX_ATTEMPTS: "4",
  WEBHOOK_TIMEOUT_SECONDS: "1",
  WEBHOOK_LEASE_SECONDS: "5",
  WEBHOOK_POLL_MS: "20"
}
const TestServer = InProcessWebhookDispatcherLive.pipe(Layer.provideMerge(makeTestServer(ENV)))

const admin = Effect.flatMap(signIn("admin"), (who) => clientWithToken(who.token))

const waitUntil = <A>(what: string, check: Effect.Effect<A | undefined>, ms = 15_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + ms
    for (;;) {
      const value = yield* check
      if (value !== undefined) return value
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* Effect.sleep("25 millis")
    }
  })

/** A subscription to `events` at the receiver's `path`, and the receiver's requests at that path only. */
const subscribe = (receiver: Receiver, path: string, events: ReadonlyArray<string> = ["*"]) =>
  Effect.gen(function* () {
    const api = yield* admin
    const created = yield* api.webhooks.create({ payload: { url: receiver.url(path), events: [...events] } })
    const at = () => receiver.received.filter((r) => r.path === path)
    return { api, created, at }
  })

const header = (received: Received, name: string) => String(received.headers[name])
const payload = (received: Received) =>
  JSON.parse(received.body) as { id: string; type: string; created_at: string; data: Record<string, unknown> }

const record = (type: string, data: { id: number; [k: string]: unknown }) =>
  Effect.flatMap(Outbox, (outbox) => outbox.record(type, data)).pipe(Effect.orDie)

layer(TestServer, { excludeTestServices: true, timeout: "90 seconds" })("webhook delivery", (it) => {
  it.scoped("an event arrives with the Standard Webhooks headers, signed with the subscription's secret", () =>
    Effect.gen(function* () {
      const receiver = yield* startReceiver
      const { at, created } = yield* subscribe(receiver, "/signed", ["booking.*"])
      yield* record("booking.created", { id: 101, hotel_id: 3, room_id: 5, date_from: "2027-01-01" })
      yield* record("hotel.updated", { id: 3, hotel_id: 3 }) // not subscribed
      const [got] = yield* waitUntil(
        "the delivery",
        Effect.sync(() => (at().length > 0 ? at() : undefined))
      )
      const body = payload(got!)
      assert.strictEqual(body.type, "booking.created")
      assert.deepStrictEqual(body.data, { id: 101, hotel_id: 3, room_id: 5, date_from: "2027-01-01" })
      assert.match(body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      assert.strictEqual(header(got!, "webhook-id"), body.id)
      assert.strictEqual(header(got!, "content-type"), "application/json")
      assert.approximately(Number(header(got!, "webhook-timestamp")), Date.now() / 1000, 30)
      assert.match(header(got!, "webhook-signature"), /^v1,[A-Za-z0-9+/]+=*$/)
      const headers = {
        id: header(got!, "webhook-id"),
        timestamp: header(got!, "webhook-timestamp"),
        signature: header(got!, "webhook-signature")
      }
      assert.isTrue(verify(created.secret, headers, got!.body))
      assert.isFalse(verify(created.secret, headers, got!.body.replace("101", "102")))
      assert.isFalse(verify("whsec_" + Buffer.alloc(24).toString("base64"), headers, got!.body))
      yield* Effect.sleep("300 millis")
      assert.strictEqual(at().length, 1) // the hotel event was not for this subscription
    })
  )

  it.scoped(
    "a receiver failing 3 times gets the events after it recovers, in order per entity, each processed once",
    () =>
      Effect.gen(function* () {
        const receiver = yield* startReceiver
        const { api, at, created } = yield* subscribe(receiver, "/flaky", ["room.*"])
        let failures = 0
        receiver.respond = (request) => (request.path === "/flaky" && failures++ < 3 ? 503 : 200)
        for (let i = 1; i <= 5; i++) yield* record("room.updated", { id: 7, hotel_id: 1, price: 1000 + i })
        // the idempotent receiver: processes each webhook-id once, in arrival order
        const processed = new Map<string, number>()
        yield* waitUntil(
          "five processed events",
          Effect.sync(() => {
            for (const r of at()) {
              if (r.path !== "/flaky") continue
              const id = header(r, "webhook-id")
              if (!processed.has(id)) processed.set(id, payload(r).data["price"] as number)
            }
            return processed.size === 5 ? true : undefined
          })
        )
        assert.deepStrictEqual([...processed.values()], [1001, 1002, 1003, 1004, 1005])
        const page = yield* waitUntil(
          "every delivery delivered",
          Effect.map(api.webhooks.deliveries({ path: { webhook_id: created.id }, urlParams: {} }), (page) =>
            page.items.length === 5 && page.items.every((d) => d.status === "delivered") ? page : undefined
          ).pipe(Effect.orDie)
        )
        const first = page.items[page.items.length - 1]!
        assert.strictEqual(first.attempts, 4)
        assert.deepStrictEqual(
          first.attempts_log.map((a) => [a.response_code, a.error]),
          [[200, null], ...Array(3).fill([503, "status 503"])]
        )
        assert.isTrue(first.attempts_log.every((a) => a.duration_ms >= 0))
      })
  )

  it.scoped("retries run out: the delivery is dead and the subscription disabled; PATCH enabled turns it on", () =>
    Effect.gen(function* () {
      const receiver = yield* startReceiver
      receiver.respond = () => 500
      const { api, at, created } = yield* subscribe(receiver, "/down", ["hotel.deleted"])
      yield* record("hotel.deleted", { id: 9, hotel_id: 9 })
      const webhook = yield* waitUntil(
        "the subscription disabled",
        Effect.map(api.webhooks.get({ path: { webhook_id: created.id } }), (w) => (w.enabled ? undefined : w)).pipe(
          Effect.orDie
        )
      )
      assert.include(webhook.disabled_reason, "4 attempts")
      assert.strictEqual(at().length, 4)
      const dead = yield* api.webhooks.deliveries({ path: { webhook_id: created.id }, urlParams: { status: "dead" } })
      assert.strictEqual(dead.items.length, 1)
      // disabled: new events are not fanned out to it
      yield* record("hotel.deleted", { id: 10, hotel_id: 10 })
      yield* Effect.sleep("300 millis")
      assert.strictEqual(at().length, 4)
      // on again, and the dead delivery sent once more by hand
      receiver.respond = () => 204
      yield* api.webhooks.patch({ path: { webhook_id: created.id }, payload: { enabled: true } })
      yield* api.webhooks.redeliver({ path: { webhook_id: created.id, delivery_id: dead.items[0]!.id } })
      yield* waitUntil(
        "the redelivery",
        Effect.sync(() => (at().length === 5 ? true : undefined))
      )
      assert.strictEqual(header(at()[4]!, "webhook-id"), header(at()[0]!, "webhook-id"))
      const read = yield* api.webhooks.get({ path: { webhook_id: created.id } })
      assert.isTrue(read.enabled)
      assert.isNull(read.disabled_reason)
    })
  )

  it.scoped("a delivery that dies while others of its subscription are delivered leaves the subscription on", () =>
    Effect.gen(function* () {
      const receiver = yield* startReceiver
      // the receiver refuses room 1's events only: room 2's, made after, are delivered meanwhile
      receiver.respond = (request) => (request.path === "/partial" && payload(request).data["id"] === 1 ? 500 : 200)
      const { api, at, created } = yield* subscribe(receiver, "/partial", ["room.updated"])
      yield* record("room.updated", { id: 1, hotel_id: 1 })
      yield* record("room.updated", { id: 2, hotel_id: 1 })
      const dead = yield* waitUntil(
        "room 1's delivery dead",
        Effect.map(
          api.webhooks.deliveries({ path: { webhook_id: created.id }, urlParams: { status: "dead" } }),
          (page) => page.items[0]
        ).pipe(Effect.orDie)
      )
      assert.strictEqual(dead.attempts, 4)
      assert.isTrue(at().some((r) => payload(r).data["id"] === 2))
      const read = yield* api.webhooks.get({ path: { webhook_id: created.id } })
      assert.isTrue(read.enabled)
      assert.isNull(read.disabled_reason)
    })
  )

  it.scoped("after rotate-secret, a receiver holding either secret accepts the messages of the grace period", () =>
    Effect.gen(function* () {
      const receiver = yield* startReceiver
      const { api, at, created } = yield* subscribe(receiver, "/rotated", ["webhook.ping"])
      const rotated = yield* api.webhooks.rotateSecret({
        path: { webhook_id: created.id },
        urlParams: { grace_period_seconds: 600 }
      })
      yield* api.webhooks.ping({ path: { webhook_id: created.id } })
      const [got] = yield* waitUntil(
        "the ping",
        Effect.sync(() => (at().length > 0 ? at() : undefined))
      )
      assert.strictEqual(payload(got!).type, "webhook.ping")
      const headers = {
        id: header(got!, "webhook-id"),
        timestamp: header(got!, "webhook-timestamp"),
        signature: header(got!, "webhook-signature")
      }
      assert.strictEqual(headers.signature.split(" ").length, 2)
      assert.isTrue(verify(created.secret, headers, got!.body))
      assert.isTrue(verify(rotated.secret, headers, got!.body))
      // no grace: the old secret no longer signs
      const final = yield* api.webhooks.rotateSecret({
        path: { webhook_id: created.id },
        urlParams: { grace_period_seconds: 0 }
      })
      yield* api.webhooks.ping({ path: { webhook_id: created.id } })
      const next = yield* waitUntil(
        "the second ping",
        Effect.sync(() => (at().length > 1 ? at()[1] : undefined))
      )
      const nextHeaders = {
        id: header(next, "webhook-id"),
        timestamp: header(next, "webhook-timestamp"),
        signature: header(next, "webhook-signature")
      }
      assert.isTrue(verify(final.secret, nextHeaders, next.body))
      assert.isFalse(verify(rotated.secret, nextHeaders, next.body))
    })
  )

  it.scoped(
    "at delivery: a name resolving to loopback is refused unallowed; redirects are not followed; silence times out",
    () =>
      Effect.gen(function* () {
        const receiver = yield* startReceiver
        const api = yield* admin
        // https to `localhost` passes the URL check (a name), but it resolves to loopback: refused, never connected
        const local = yield* api.webhooks.create({
          payload: { url: `https://localhost:${receiver.port}/local`, events: ["webhook.ping"] }
        })
        yield* api.webhooks.ping({ path: { webhook_id: local.id } })
        const refused = yield* waitUntil(
          "the refusal",
          Effect.map(
            api.webhooks.deliveries({ path: { webhook_id: local.id }, urlParams: {} }),
            (page) => page.items[0]?.last_error ?? undefined
          ).pipe(Effect.orDie)
        )
        assert.match(refused, /localhost resolves to (127\.0\.0\.1|::1), a loopback address: refused/)
        // a redirect answers a failure; its target is never asked
        receiver.respond = (request) =>
          request.path === "/moved" ? { status: 307, headers: { location: receiver.url("/target") } } : 200
        const moved = yield* subscribe(receiver, "/moved", ["webhook.ping"])
        yield* moved.api.webhooks.ping({ path: { webhook_id: moved.created.id } })
        const redirectError = yield* waitUntil(
          "the redirect's outcome",
          Effect.map(
            moved.api.webhooks.deliveries({ path: { webhook_id: moved.created.id }, urlParams: {} }),
            (page) => page.items[0]?.last_error ?? undefined
          ).pipe(Effect.orDie)
        )
        assert.strictEqual(redirectError, "status 307: redirects are not followed")
        // a receiver that never answers: the attempt ends after WEBHOOK_TIMEOUT_SECONDS
        receiver.respond = (request) => (request.path === "/silent" ? "hang" : 200)
        const silent = yield* subscribe(receiver, "/silent", ["webhook.ping"])
        yield* silent.api.webhooks.ping({ path: { webhook_id: silent.created.id } })
        const timeout = yield* waitUntil(
          "the timeout",
          Effect.map(
            silent.api.webhooks.deliveries({ path: { webhook_id: silent.created.id }, urlParams: {} }),
            (page) => page.items[0]?.attempts_log[0]
          ).pipe(Effect.orDie)
        )
        assert.strictEqual(timeout.error, "no answer within 1 s")
        assert.isAtLeast(timeout.duration_ms, 900)
        assert.isFalse(receiver.received.some((r) => r.path === "/target" || r.path === "/local"))
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE webhook_subscriptions SET enabled = false WHERE id IN (${local.id}, ${moved.created.id}, ${silent.created.id})`
      })
  )

  it.scoped("the dispatcher's metrics: events fanned out, attempts by outcome, their duration, the outbox lag", () =>
    Effect.gen(function* () {
      const receiver = yield* startReceiver
      let calls = 0
      receiver.respond = () => (calls++ === 0 ? 500 : 200)
      const { at } = yield* subscribe(receiver, "/metered", ["hotel.created"])
      const metrics = yield* Metrics
      const value = (text: string, series: string) =>
        Number(
          text
            .split("\n")
            .find((line) => line.startsWith(`${series} `))
            ?.split(" ")[1] ?? Number.NaN
        )
      const before = yield* metrics.exposition
      yield* record("hotel.created", { id: 77, hotel_id: 77 })
      yield* waitUntil(
        "the event delivered",
        Effect.sync(() => (at().length === 2 ? true : undefined))
      )
      yield* Effect.sleep("200 millis")
      const after = yield* metrics.exposition
      const delta = (series: string) => value(after, series) - value(before, series)
      assert.isAtLeast(delta("webhook_events_total"), 1)
      assert.isAtLeast(delta('webhook_deliveries_total{outcome="delivered"}'), 1)
      assert.isAtLeast(delta('webhook_deliveries_total{outcome="failed"}'), 1)
      assert.isAtLeast(delta("webhook_delivery_duration_seconds_count"), 2)
      assert.match(after, /^webhook_outbox_lag_seconds \d/m)
      // the retention runs beside the in-process dispatcher too (docs/operations.md §14)
      assert.match(after, /^webhook_retention_deleted_total\{kind="events"\} \d/m)
    })
  )
})

/**
 * The webhook dispatcher's claim and loop on the real PostgreSQL (docs/decisions.md D16,
 * `WebhookDispatcher.ts`): a claim for several slots deals them round-robin over the subscriptions, never more
 * than a subscription's share, never two deliveries of one subscription and entity, each subscription's in its
 * order, and a disabled subscription's ping only; its cost does not grow with a backlog of many entities (the
 * plan reads the claim index per subscription, not the pending rows); and two dispatchers running at once over events written
 * meanwhile deliver every event to every subscription, one entity's in order.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, layer } from "@effect/vitest"
import * as Database from "@shum/infra/Database"
import { freshDatabase } from "@shum/infra/Testing"
import { makeCipher, generateSecret } from "@shum/infra/WebhookSigning"
import { Duration, Effect, Layer, Logger, LogLevel, Option, Random, Redacted } from "effect"
import {
  claimDeliveries,
  makeDispatcher,
  perSubscriptionLimit,
  type DispatcherSettings
} from "../src/WebhookDispatcher.js"
import { WebhookMetrics } from "../src/WebhookMetrics.js"
import { WebhookSender, type Message } from "../src/WebhookSender.js"

const TestLayer = Layer.unwrapScoped(
  Effect.map(freshDatabase, (connection) => Database.layer(connection, { poolSize: 8 }))
).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Error)))

const KEY = Option.some(Redacted.make("claim-test-key-claim-test-key-claim-test"))
const cipher = makeCipher(KEY)

const SETTINGS: DispatcherSettings = {
  keyMaterial: KEY,
  maxAttempts: 5,
  retryBase: Duration.seconds(0),
  lease: Duration.seconds(30),
  pollInterval: Duration.millis(20),
  concurrency: 6,
  retention: Duration.days(30)
}

const NoMetrics = Layer.succeed(
  WebhookMetrics,
  WebhookMetrics.of({
    eventsFannedOut: () => Effect.void,
    fanOutFailed: Effect.void,
    attempt: () => Effect.void,
    lag: () => Effect.void,
    pruned: () => Effect.void
  })
)

/** A sender answering 204 after up to 3 ms, keeping every message in the order it was sent. */
const recordingSender = (sent: Array<Message>) =>
  Layer.succeed(
    WebhookSender,
    WebhookSender.of({
      send: (message) =>
        Effect.gen(function* () {
          sent.push(message)
          yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(0, 4)))
          return { ok: true, status: 204, durationMs: 1, error: null }
        })
    })
  )

const subscription = (path: string, enabled = true) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ id: number }>`
      INSERT INTO webhook_subscriptions (url, events, secret, enabled)
      VALUES (${`http://127.0.0.1:9/${path}`}, '{*}', ${cipher.encrypt(generateSecret())}, ${enabled})
      RETURNING id`.pipe(Effect.map((rows) => rows[0]!.id))
  ).pipe(Effect.orDie)

/** An event of `entity` (room `n`), not fanned out yet (or a ping of `pingOf`, with its delivery). */
const event = (n: number, seq: number, pingOf?: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ id: string }>`
      INSERT INTO outbox_events (event_id, type, entity, subscription_id, data, fanned_out_at)
      VALUES (gen_random_uuid(), ${pingOf === undefined ? "room.updated" : "webhook.ping"}, ${`room:${n}`},
              ${pingOf ?? null}, ${JSON.stringify({ id: n, seq })}::jsonb,
              ${pingOf === undefined ? null : new Date()})
      RETURNING id`
    if (pingOf !== undefined) {
      yield* sql`INSERT INTO webhook_deliveries (subscription_id, event_id, entity)
                 VALUES (${pingOf}, ${row!.id}::bigint, ${`room:${n}`})`
    }
    return Number(row!.id)
  }).pipe(Effect.orDie)

interface ClaimedRow {
  readonly subscription_id: number
  readonly entity: string
  readonly seq: number
}

/** One claim of `limit` slots: what it leased, as subscription, entity and the event's seq. */
const claim = (limit: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const claimed = yield* claimDeliveries(sql, 30, perSubscriptionLimit(SETTINGS.concurrency))(limit)
    return claimed
      .map((c): ClaimedRow => ({
        subscription_id: c.subscription_id,
        entity: `room:${(c.data as { id: number }).id}`,
        seq: (c.data as { seq: number }).seq
      }))
      .sort((a, b) => a.subscription_id - b.subscription_id || a.entity.localeCompare(b.entity) || a.seq - b.seq)
  }).pipe(Effect.orDie)

class Rollback {
  readonly _tag = "Rollback"
  constructor(readonly plan: unknown) {}
}

const fresh = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) =>
    sql`TRUNCATE webhook_attempts, webhook_deliveries, outbox_events, webhook_subscriptions RESTART IDENTITY CASCADE`
).pipe(Effect.orDie)

layer(TestLayer, { excludeTestServices: true, timeout: "120 seconds" })("webhook claim", (it) => {
  it.effect("a claim for several slots deals them round-robin, within each share, one per entity, in order", () =>
    Effect.gen(function* () {
      yield* fresh
      const sql = yield* SqlClient.SqlClient
      const a = yield* subscription("a")
      const b = yield* subscription("b")
      const off = yield* subscription("off", false)
      // room 1 three times, then rooms 2 … 9 once: fanned out to a and b (not to the disabled one)
      for (const seq of [1, 2, 3]) yield* event(1, seq)
      for (let n = 2; n <= 9; n++) yield* event(n, 1)
      const dispatcher = yield* makeDispatcher(SETTINGS).pipe(
        Effect.provide(Layer.merge(NoMetrics, recordingSender([])))
      )
      assert.strictEqual(yield* Effect.orDie(dispatcher.fanOut), 11)
      // a ping of the disabled subscription, and a backlog it had before it was disabled
      yield* event(50, 1, off)
      yield* sql`INSERT INTO webhook_deliveries (subscription_id, event_id, entity)
                 SELECT ${off}, id, entity FROM outbox_events WHERE subscription_id IS NULL`

      // four slots: each subscription's first (the disabled one's ping), then a's second — room 1's second
      // waits for its first, so a's second is room 2
      assert.deepStrictEqual(yield* claim(4), [
        { subscription_id: a, entity: "room:1", seq: 1 },
        { subscription_id: a, entity: "room:2", seq: 1 },
        { subscription_id: b, entity: "room:1", seq: 1 },
        { subscription_id: off, entity: "room:50", seq: 1 }
      ])
      // eight more: a has room for one (its share is 3), b for two; the disabled one has nothing but pings
      assert.deepStrictEqual(yield* claim(8), [
        { subscription_id: a, entity: "room:3", seq: 1 },
        { subscription_id: b, entity: "room:2", seq: 1 },
        { subscription_id: b, entity: "room:3", seq: 1 }
      ])
      assert.deepStrictEqual(yield* claim(8), [])

      // a's room 1 recorded: its next of room 1 is the first in a's order again, and the only room a has
      yield* sql`UPDATE webhook_deliveries d SET status = 'delivered', leased_until = NULL, lease_token = NULL
                 FROM outbox_events e WHERE e.id = d.event_id AND d.subscription_id = ${a}
                   AND e.entity = 'room:1' AND e.data->>'seq' = '1'`
      assert.deepStrictEqual(yield* claim(8), [{ subscription_id: a, entity: "room:1", seq: 2 }])
      // a lease that lapsed is claimed again; no subscription ever holds two of one entity at once
      yield* sql`UPDATE webhook_deliveries SET leased_until = now() - interval '1 second'
                 WHERE subscription_id = ${b} AND entity = 'room:2'`
      assert.deepStrictEqual(yield* claim(8), [{ subscription_id: b, entity: "room:2", seq: 1 }])
      const [twice] = yield* sql<{ n: number }>`
        SELECT count(*)::int AS n FROM (
          SELECT subscription_id, entity FROM webhook_deliveries WHERE leased_until > now()
          GROUP BY 1, 2 HAVING count(*) > 1) x`
      assert.strictEqual(twice!.n, 0)
    })
  )

  it.effect("the claim's plan reads each subscription's first due deliveries from its index, not the backlog", () =>
    Effect.gen(function* () {
      yield* fresh
      const sql = yield* SqlClient.SqlClient
      const a = yield* subscription("a")
      yield* subscription("b")
      const off = yield* subscription("off", false)
      // 20,000 events, delivered to nobody yet: a backlog of 60,000 pending deliveries, a's first three leased
      yield* sql`INSERT INTO outbox_events (event_id, type, entity, data, fanned_out_at)
                 SELECT gen_random_uuid(), 'booking.created', 'booking:' || i, '{}'::jsonb, now()
                 FROM generate_series(1, 20000) AS i`
      yield* sql`INSERT INTO webhook_deliveries (subscription_id, event_id, entity)
                 SELECT s.id, e.id, e.entity FROM outbox_events e CROSS JOIN webhook_subscriptions s ORDER BY e.id, s.id`
      yield* sql`UPDATE webhook_deliveries SET leased_until = now() + interval '1 minute', lease_token = gen_random_uuid()
                 WHERE id IN (SELECT id FROM webhook_deliveries WHERE subscription_id = ${a} ORDER BY id LIMIT 3)`
      yield* event(1, 1, off)
      yield* sql`ANALYZE webhook_deliveries, outbox_events, webhook_subscriptions`

      const [text, params] = claimDeliveries(sql, 30, perSubscriptionLimit(SETTINGS.concurrency))(6).compile()
      const plan = yield* sql
        .unsafe<{ "QUERY PLAN": unknown }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, params as Array<unknown>)
        .pipe(
          // EXPLAIN ANALYZE runs the claim: rolled back
          Effect.flatMap((rows) => Effect.fail(new Rollback(rows[0]!["QUERY PLAN"]))),
          sql.withTransaction,
          Effect.catchTag("Rollback", (rollback) => Effect.succeed(rollback.plan)),
          Effect.orDie
        )
      type Node = {
        "Node Type": string
        "Relation Name"?: string
        "Index Name"?: string
        "Actual Rows": number
        "Actual Loops": number
        Plans?: Array<Node>
      }
      const nodes: Array<Node> = []
      const walk = (node: Node) => {
        nodes.push(node)
        for (const child of node.Plans ?? []) walk(child)
      }
      walk((plan as Array<{ Plan: Node }>)[0]!.Plan)
      const text_ = JSON.stringify(plan)
      const deliveries = nodes.filter((n) => n["Relation Name"] === "webhook_deliveries")
      assert.isEmpty(
        deliveries.filter((n) => n["Node Type"].includes("Seq Scan") || n["Node Type"].includes("Bitmap")),
        text_
      )
      // b's three and the ping (a's share is taken but for none), read through the claim index: a few rows,
      // not tens of thousands
      const claimScan = deliveries.filter((n) => n["Index Name"] === "ix_webhook_deliveries_claim")
      assert.isNotEmpty(claimScan, text_)
      const read = deliveries.reduce((sum, n) => sum + n["Actual Rows"] * n["Actual Loops"], 0)
      assert.isBelow(read, 100, text_)
      const leased = nodes.find((n) => n["Node Type"] === "ModifyTable")
      assert.strictEqual(leased?.["Actual Rows"], 4, text_)
    })
  )

  it.scoped("two dispatchers at once, events written meanwhile: every event reaches every subscription, in order", () =>
    Effect.gen(function* () {
      yield* fresh
      const sql = yield* SqlClient.SqlClient
      const a = yield* subscription("a")
      const b = yield* subscription("b")
      const sent: Array<Message> = []
      const services = Layer.merge(NoMetrics, recordingSender(sent))
      for (let i = 0; i < 2; i++) {
        const dispatcher = yield* makeDispatcher(SETTINGS).pipe(Effect.provide(services))
        yield* Effect.forkScoped(dispatcher.run)
      }
      // 240 events over 12 rooms from 6 writers, each event its own transaction, some a few at once
      const ENTITIES = 12
      const PER_WRITER = 40
      yield* Effect.forEach(
        Array.from({ length: 6 }, (_, w) => w),
        (w) =>
          Effect.gen(function* () {
            for (let i = 0; i < PER_WRITER; i++) {
              const n = ((w * PER_WRITER + i) % ENTITIES) + 1
              yield* event(n, w * PER_WRITER + i)
              if (i % 10 === 0) yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(0, 30)))
            }
          }),
        { concurrency: "unbounded", discard: true }
      )
      const total = 6 * PER_WRITER
      const deadline = Date.now() + 60_000
      for (;;) {
        const [left] = yield* sql<{ n: number }>`
          SELECT (SELECT count(*) FROM outbox_events WHERE fanned_out_at IS NULL)
               + (SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered') AS n`
        if (Number(left!.n) === 0) break
        if (Date.now() > deadline) return yield* Effect.dieMessage(`${left!.n} events or deliveries left`)
        yield* Effect.sleep("50 millis")
      }
      const [deliveries] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM webhook_deliveries`
      assert.strictEqual(deliveries!.n, 2 * total)
      // each event once per subscription (nothing failed, no lease lapsed), and per subscription and entity in
      // the order of the events
      const events = yield* sql<{ event_id: string; id: string; entity: string }>`
        SELECT event_id::text AS event_id, id::text AS id, entity FROM outbox_events`
      const byUuid = new Map(events.map((e) => [e.event_id, e]))
      for (const subscriptionId of [a, b]) {
        const mine = sent.filter((m) => m.url.endsWith(subscriptionId === a ? "/a" : "/b"))
        assert.strictEqual(mine.length, total)
        assert.strictEqual(new Set(mine.map((m) => m.id)).size, total)
        const order = new Map<string, Array<number>>()
        for (const m of mine) {
          const e = byUuid.get(m.id)!
          order.set(e.entity, [...(order.get(e.entity) ?? []), Number(e.id)])
        }
        for (const [entity, ids] of order) {
          assert.deepStrictEqual(
            ids,
            [...ids].sort((x, y) => x - y),
            `subscription ${subscriptionId}, ${entity}`
          )
        }
      }
    })
  )

  it.scoped("a fan-out that keeps failing: each failed round counted, the lag gauge measured all the same", () =>
    Effect.gen(function* () {
      yield* fresh
      const sql = yield* SqlClient.SqlClient
      yield* subscription("a")
      // the fan-out's marking of its events fails (as a revoked privilege or a broken table would)
      yield* Effect.acquireRelease(
        Effect.orDie(
          Effect.zipRight(
            sql`CREATE FUNCTION test_refuse_fan_out() RETURNS trigger LANGUAGE plpgsql AS
                  $$ BEGIN RAISE EXCEPTION 'fan-out refused by the test'; END $$`,
            sql`CREATE TRIGGER test_refuse_fan_out BEFORE UPDATE ON outbox_events
                  FOR EACH ROW EXECUTE FUNCTION test_refuse_fan_out()`
          )
        ),
        () =>
          Effect.orDie(
            Effect.zipRight(
              sql`DROP TRIGGER test_refuse_fan_out ON outbox_events`,
              sql`DROP FUNCTION test_refuse_fan_out()`
            )
          )
      )
      // an event waiting for ten minutes already
      yield* sql`INSERT INTO outbox_events (event_id, type, entity, data, created_at)
                 VALUES (gen_random_uuid(), 'room.updated', 'room:1', '{}'::jsonb, now() - interval '10 minutes')`
      const lags: Array<number> = []
      let failures = 0
      const metrics = Layer.succeed(
        WebhookMetrics,
        WebhookMetrics.of({
          eventsFannedOut: () => Effect.void,
          fanOutFailed: Effect.sync(() => failures++),
          attempt: () => Effect.void,
          lag: (seconds) => Effect.sync(() => lags.push(seconds)),
          pruned: () => Effect.void
        })
      )
      const dispatcher = yield* makeDispatcher(SETTINGS).pipe(Effect.provide(Layer.merge(metrics, recordingSender([]))))
      yield* Effect.forkScoped(dispatcher.run)
      const deadline = Date.now() + 10_000
      while ((failures < 2 || lags.length < 2) && Date.now() < deadline) yield* Effect.sleep("50 millis")
      assert.isAtLeast(failures, 2, "failed rounds counted")
      assert.isAtLeast(lags.length, 2, "the lag measured while the fan-out fails")
      assert.isAtLeast(lags.at(-1)!, 600)
      assert.isAbove(lags.at(-1)!, lags[0]!, "the gauge moves")
      const [waiting] = yield* sql<{
        n: number
      }>`SELECT count(*)::int AS n FROM outbox_events WHERE fanned_out_at IS NULL`
      assert.strictEqual(waiting!.n, 1)
    }).pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.None)))
  )
})

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
import { Duration, Effect, Layer, Logger, LogLevel, Random } from "effect"
import {
  claimDeliveries,
  claimStatement,
  makeDispatcher,
  perSubscriptionLimit,
  type DispatcherSettings
} from "../src/WebhookDispatcher.js"
import { WebhookMetrics } from "../src/WebhookMetrics.js"
import { WebhookSender, type Message } from "../src/WebhookSender.js"
import { fresh, misheld, SETTINGS, subscription, TestDatabase, watchHeads } from "./WebhookTestKit.js"

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

/** An event of `entity` (room `n`), not fanned out yet (or a ping of `pingOf`, with its delivery). */
const event = (n: number, seq: number, pingOf?: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ id: string }>`
      INSERT INTO outbox_events (event_id, type, entity, subscription_id, data, fanned_out_at)
      VALUES (gen_random_uuid(), ${pingOf === undefined ? "room.updated" : "webhook.ping"},
              ${pingOf === undefined ? `room:${n}` : `webhook:${pingOf}`},
              ${pingOf ?? null}, ${JSON.stringify({ id: n, seq })}::jsonb,
              ${pingOf === undefined ? null : new Date()})
      RETURNING id`
    if (pingOf !== undefined) {
      yield* sql`INSERT INTO webhook_deliveries (subscription_id, event_id, entity)
                 VALUES (${pingOf}, ${row!.id}::bigint, ${`webhook:${pingOf}`})`
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

type PlanNode = {
  "Node Type": string
  "Relation Name"?: string
  "Index Name"?: string
  "Actual Rows": number
  "Actual Loops": number
  "Rows Removed by Filter"?: number
  "Rows Removed by Index Recheck"?: number
  Plans?: Array<PlanNode>
}

/**
 * The plan of one claim of `limit` slots, run by EXPLAIN ANALYZE and rolled back: its nodes, the rows it read of
 * `webhook_deliveries` and how many it leased.
 */
const claimPlan = (limit: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [text, params] = claimStatement(
      sql,
      30,
      perSubscriptionLimit(SETTINGS.concurrency),
      SETTINGS.maxAttempts
    )(limit).compile()
    const plan = yield* sql
      .unsafe<{ "QUERY PLAN": unknown }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, params as Array<unknown>)
      .pipe(
        // EXPLAIN ANALYZE runs the claim: rolled back
        Effect.flatMap((rows) => Effect.fail(new Rollback(rows[0]!["QUERY PLAN"]))),
        sql.withTransaction,
        Effect.catchTag("Rollback", (rollback) => Effect.succeed(rollback.plan)),
        Effect.orDie
      )
    const nodes: Array<PlanNode> = []
    const walk = (node: PlanNode) => {
      nodes.push(node)
      for (const child of node.Plans ?? []) walk(child)
    }
    walk((plan as Array<{ Plan: PlanNode }>)[0]!.Plan)
    const deliveries = nodes.filter((n) => n["Relation Name"] === "webhook_deliveries")
    return {
      nodes: deliveries,
      text: nodes
        .map(
          (n) =>
            `${n["Node Type"]} ${n["Relation Name"] ?? ""} ${n["Index Name"] ?? ""} ${n["Actual Rows"]}x${n["Actual Loops"]}`
        )
        .join("; "),
      // the rows each node returned and those it read and dropped
      read: deliveries.reduce(
        (sum, n) =>
          sum +
          (n["Actual Rows"] + (n["Rows Removed by Filter"] ?? 0) + (n["Rows Removed by Index Recheck"] ?? 0)) *
            n["Actual Loops"],
        0
      ),
      leased: nodes.find((n) => n["Node Type"] === "ModifyTable")?.["Actual Rows"]
    }
  })

/** No scan of the table, the heads read from their index, fewer than 100 rows read in all. */
const assertReadsFew = (plan: Effect.Effect.Success<ReturnType<typeof claimPlan>>) => {
  assert.isEmpty(
    plan.nodes.filter((n) => n["Node Type"].includes("Seq Scan")),
    plan.text
  )
  assert.isNotEmpty(
    plan.nodes.filter((n) => n["Index Name"] === "ix_webhook_deliveries_heads"),
    plan.text
  )
  assert.isBelow(plan.read, 100, plan.text)
}

/**
 * A backlog: `events` events of `entities` entities (round-robin), delivered to nobody yet — one pending
 * delivery per event and subscription, inserted in event order as the fan-out does (held behind an earlier one
 * of the same statement from the start).
 */
const backlog = (events: number, entities: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.zipRight(
      sql`INSERT INTO outbox_events (event_id, type, entity, data, fanned_out_at)
          SELECT gen_random_uuid(), 'booking.created', 'booking:' || (i % ${entities}), '{}'::jsonb, now()
          FROM generate_series(1, ${events}) AS i`,
      sql`INSERT INTO webhook_deliveries (subscription_id, event_id, entity, held)
          SELECT s.id, e.id, e.entity, row_number() OVER (PARTITION BY s.id, e.entity ORDER BY e.id) > 1
          FROM outbox_events e CROSS JOIN webhook_subscriptions s
          WHERE e.subscription_id IS NULL AND NOT EXISTS (SELECT 1 FROM webhook_deliveries x WHERE x.event_id = e.id)
          ORDER BY e.id, s.id`
    )
  ).pipe(Effect.orDie)

layer(TestDatabase, { excludeTestServices: true, timeout: "120 seconds" })("webhook claim", (it) => {
  it.effect("a claim for several slots deals them round-robin, within each share, one per entity, in order", () =>
    Effect.gen(function* () {
      yield* fresh
      const sql = yield* SqlClient.SqlClient
      const a = yield* subscription("a")
      const b = yield* subscription("b")
      const off = yield* subscription("off", { enabled: false })
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
      const off = yield* subscription("off", { enabled: false })
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

      // b's three and the ping (a's share is taken but for none), read through the heads' index: a few rows,
      // not tens of thousands
      const plan = yield* claimPlan(6)
      assertReadsFew(plan)
      assert.strictEqual(plan.leased, 4, plan.text)
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

/**
 * The work counted so far for `webhook_deliveries` and its indexes by this connection (not yet reported to the
 * statistics, which happens only between transactions): buffers accessed and rows returned, triggers' included.
 */
const xactWork = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => sql<{ blocks: number; rows: number }>`
    SELECT sum(pg_stat_get_xact_blocks_fetched(c.oid))::int AS blocks,
      sum(pg_stat_get_xact_tuples_returned(c.oid) + pg_stat_get_xact_tuples_fetched(c.oid))::int AS rows
    FROM pg_class c
    WHERE c.oid = 'webhook_deliveries'::regclass
       OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'webhook_deliveries'::regclass)`
).pipe(
  Effect.map((rows) => rows[0]!),
  Effect.orDie
)

// a database of its own: its tables' statistics are the test's (a new database's, as the bench's)
layer(TestDatabase, { excludeTestServices: true, timeout: "180 seconds" })("webhook claim on a new database", (it) => {
  it.effect(
    "statistics taken while the table was empty, or nearly, then a backlog: the claim still reads a few rows",
    () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const leaseFirstThree = (subscriptionId: number) =>
          sql`UPDATE webhook_deliveries SET leased_until = now() + interval '1 minute', lease_token = gen_random_uuid()
            WHERE id IN (SELECT id FROM webhook_deliveries WHERE subscription_id = ${subscriptionId} ORDER BY id LIMIT 3)`
        // analysed empty (what a new database's autovacuum leaves before a burst: it analyses again only after a
        // minute and 10 % of the rows changed)
        yield* sql`ANALYZE webhook_deliveries, outbox_events, webhook_subscriptions`
        const a = yield* subscription("a")
        yield* subscription("b")
        const off = yield* subscription("off", { enabled: false })
        yield* backlog(20_000, 20_000)
        yield* leaseFirstThree(a)
        yield* event(1, 1, off)
        const empty = yield* claimPlan(6)
        assertReadsFew(empty)
        assert.strictEqual(empty.leased, 4, empty.text)

        // analysed with a few deliveries, then the backlog
        yield* fresh
        const a2 = yield* subscription("a")
        yield* subscription("b")
        const off2 = yield* subscription("off", { enabled: false })
        yield* backlog(4, 4)
        yield* sql`ANALYZE webhook_deliveries, outbox_events, webhook_subscriptions`
        yield* backlog(20_000, 20_000)
        yield* leaseFirstThree(a2)
        yield* event(1, 1, off2)
        const nearlyEmpty = yield* claimPlan(6)
        assertReadsFew(nearlyEmpty)
        assert.strictEqual(nearlyEmpty.leased, 4, nearlyEmpty.text)
      }).pipe(Effect.ensuring(fresh)),
    120_000
  )

  it.effect(
    "one entity's deep queue: a claim and a record cost the same at any depth, and it drains in order",
    () =>
      Effect.gen(function* () {
        yield* fresh
        const sql = yield* SqlClient.SqlClient
        const a = yield* subscription("a")
        yield* backlog(20_000, 1)
        yield* sql`ANALYZE webhook_deliveries, outbox_events, webhook_subscriptions`
        // a shallow queue of another entity, to compare
        yield* sql`INSERT INTO outbox_events (event_id, type, entity, data, fanned_out_at)
                 SELECT gen_random_uuid(), 'booking.created', 'booking:shallow', '{}'::jsonb, now()
                 FROM generate_series(1, 3)`
        assert.strictEqual(yield* misheld, 0)
        const perSubscription = perSubscriptionLimit(SETTINGS.concurrency)
        /** One claim (its only candidate the queue's head) and the head's record as delivered, in a transaction. */
        const step = Effect.gen(function* () {
          const before = yield* xactWork
          const claimed = yield* claimDeliveries(sql, 30, perSubscription)(6)
          assert.strictEqual(claimed.length, 1)
          yield* sql`UPDATE webhook_deliveries SET status = 'delivered', leased_until = NULL, lease_token = NULL,
                     finished_at = now() WHERE id = ${claimed[0]!.id}::bigint`
          const after = yield* xactWork
          return {
            id: Number(claimed[0]!.id),
            work: { blocks: after.blocks - before.blocks, rows: after.rows - before.rows }
          }
        }).pipe(sql.withTransaction, Effect.orDie)

        // drained in order: each claim takes the queue's next, one at a time
        const STEPS = 20
        const ids: Array<number> = []
        for (let i = 0; i < STEPS; i++) ids.push((yield* step).id)
        const [first] = yield* sql<{ id: string }>`SELECT min(id)::text AS id FROM webhook_deliveries`
        assert.deepStrictEqual(
          ids,
          Array.from({ length: STEPS }, (_, i) => Number(first!.id) + i)
        )
        assert.strictEqual(yield* misheld, 0)

        // the work of a step 19,950 deep, then 3 deep — each after a vacuum: the index entries the steps before left
        // behind (every update of a delivery leaves some) are read by the next steps until a vacuum removes them,
        // at any depth; the queue itself must not be read
        const measured = Effect.gen(function* () {
          const works: Array<{ blocks: number; rows: number }> = []
          for (let i = 0; i < 3; i++) {
            yield* sql`VACUUM (INDEX_CLEANUP ON) webhook_deliveries`
            works.push((yield* step).work)
          }
          return works
        })
        const deep = yield* measured
        yield* sql`UPDATE webhook_deliveries SET status = 'delivered', finished_at = now()
                 WHERE entity = 'booking:0' AND status = 'pending'`
        yield* sql`INSERT INTO webhook_deliveries (subscription_id, event_id, entity)
                 SELECT ${a}, id, entity FROM outbox_events WHERE entity = 'booking:shallow' ORDER BY id`
        const shallow = yield* measured
        const most = (works: ReadonlyArray<{ blocks: number; rows: number }>, key: "blocks" | "rows") =>
          Math.max(...works.map((w) => w[key]))
        const detail = JSON.stringify({ deep, shallow })
        assert.isBelow(most(deep, "rows"), most(shallow, "rows") + 20, detail)
        assert.isBelow(most(deep, "blocks"), most(shallow, "blocks") + 20, detail)
      }),
    180_000
  )

  it.scoped(
    "two dispatchers, receivers that fail or never answer, events written meanwhile: each event delivered, each entity's in order",
    () =>
      Effect.gen(function* () {
        yield* fresh
        const sql = yield* SqlClient.SqlClient
        const a = yield* subscription("a")
        const b = yield* subscription("b")
        /** Every request in the order it was made, and whether it succeeded (undefined: never answered). */
        const log: Array<{ url: string; id: string; ok: boolean | undefined }> = []
        let stalled: string | undefined
        const sender = Layer.succeed(
          WebhookSender,
          WebhookSender.of({
            send: (message) =>
              Effect.gen(function* () {
                // the first request of the fifth event to a never answers: its lease lapses, and it is sent again
                const entry = { url: message.url, id: message.id, ok: undefined as boolean | undefined }
                log.push(entry)
                if (stalled === undefined && message.url.endsWith("/a") && (yield* eventSeq(message.id)) === 5) {
                  stalled = message.id
                  return yield* Effect.never
                }
                yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(0, 4)))
                entry.ok = (yield* Random.next) >= 0.25
                return entry.ok
                  ? { ok: true, status: 204, durationMs: 1, error: null }
                  : { ok: false, status: 500, durationMs: 1, error: null }
              })
          })
        )
        const eventSeq = (eventId: string) =>
          sql<{
            seq: number
          }>`SELECT (data->>'seq')::int AS seq FROM outbox_events WHERE event_id = ${eventId}::uuid`.pipe(
            Effect.map((rows) => rows[0]?.seq),
            Effect.orDie
          )
        const settings: DispatcherSettings = { ...SETTINGS, lease: Duration.seconds(1), maxAttempts: 1_000 }
        for (let i = 0; i < 2; i++) {
          const dispatcher = yield* makeDispatcher(settings).pipe(Effect.provide(Layer.merge(NoMetrics, sender)))
          yield* Effect.forkScoped(dispatcher.run)
        }
        // the heads stay right while they work
        const checks = yield* watchHeads
        // 180 events over 6 rooms, each event its own transaction, each room's from a writer of its own (as a
        // change's lock on its entity orders its events: two writers of one room would commit out of id order,
        // which no dispatcher can put right)
        const WRITERS = 6
        const PER_WRITER = 30
        yield* Effect.forEach(
          Array.from({ length: WRITERS }, (_, w) => w),
          (w) =>
            Effect.gen(function* () {
              for (let i = 0; i < PER_WRITER; i++) {
                yield* event(w + 1, i + 1)
                if (i % 5 === 0) yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(0, 30)))
              }
            }),
          { concurrency: "unbounded", discard: true }
        )
        const total = WRITERS * PER_WRITER
        const deadline = Date.now() + 90_000
        for (;;) {
          const [left] = yield* sql<{ n: number }>`
            SELECT (SELECT count(*) FROM outbox_events WHERE fanned_out_at IS NULL)
                 + (SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered') AS n`
          if (Number(left!.n) === 0) break
          if (Date.now() > deadline) return yield* Effect.dieMessage(`${left!.n} events or deliveries left`)
          yield* Effect.sleep("50 millis")
        }
        assert.isDefined(stalled, "a request never answered")
        assert.isNotEmpty(checks)
        assert.deepStrictEqual(
          checks.filter((n) => n !== 0),
          [],
          "pending deliveries held wrongly"
        )
        const [deliveries] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM webhook_deliveries`
        assert.strictEqual(deliveries!.n, 2 * total)
        const events = yield* sql<{ event_id: string; id: string; entity: string }>`
          SELECT e.event_id::text AS event_id, e.id::text AS id, e.entity FROM outbox_events e ORDER BY e.id`
        for (const subscriptionId of [a, b]) {
          const mine = log.filter((m) => m.url.endsWith(subscriptionId === a ? "/a" : "/b"))
          // at least once: every event delivered
          assert.strictEqual(new Set(mine.filter((m) => m.ok === true).map((m) => m.id)).size, total)
          // in order: no request for an event before the entity's previous event was delivered
          const byEntity = new Map<string, Array<string>>()
          for (const e of events) byEntity.set(e.entity, [...(byEntity.get(e.entity) ?? []), e.event_id])
          for (const [entity, ids] of byEntity) {
            for (let k = 1; k < ids.length; k++) {
              const firstRequest = mine.findIndex((m) => m.id === ids[k])
              const previousDelivered = mine.findIndex((m) => m.id === ids[k - 1] && m.ok === true)
              assert.isAbove(
                firstRequest,
                previousDelivered,
                `subscription ${subscriptionId}, ${entity}, event ${k}: ${JSON.stringify(
                  mine.map((m, i) => [i, ids.indexOf(m.id), m.ok]).filter(([, k_]) => k_ !== -1)
                )}`
              )
            }
          }
        }
      }).pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.None))),
    120_000
  )
})

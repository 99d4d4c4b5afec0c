/**
 * Retention of webhook history (docs/operations.md §14) on the real PostgreSQL: ended deliveries older than
 * the retention go with their attempts, then old fanned-out events with no delivery left; a pending
 * delivery and its event stay however old, as do recent rows and events not yet fanned out; batches smaller
 * than the work still delete all of it; the layer runs at start and counts what it deleted.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, layer } from "@effect/vitest"
import * as Database from "@shum/infra/Database"
import { freshDatabase } from "@shum/infra/Testing"
import { Deferred, Duration, Effect, Layer, Logger, LogLevel } from "effect"
import { WebhookMetrics } from "../src/WebhookMetrics.js"
import { pruneWebhookHistory, WebhookRetentionLive } from "../src/WebhookRetention.js"

const TestLayer = Layer.unwrapScoped(
  Effect.map(freshDatabase, (connection) => Database.layer(connection, { poolSize: 4 }))
).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Error)))

const RETENTION = Duration.days(30)

interface Fixture {
  /** An event `days` old, fanned out unless `fannedOut` is false; its id. */
  readonly event: (days: number, fannedOut?: boolean) => Effect.Effect<number>
  /** A delivery of `event` in `status`, ended `days` ago (pending: none), with `attempts` attempts; its id. */
  readonly delivery: (event: number, status: string, days: number, attempts?: number) => Effect.Effect<number>
}

const fixture = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const [subscription] = yield* sql<{ id: number }>`
    INSERT INTO webhook_subscriptions (url, events, secret, enabled)
    VALUES ('https://example.com/hook', '{*}', 'sealed', false) RETURNING id`
  let entity = 0
  const event: Fixture["event"] = (days, fannedOut = true) =>
    sql<{ id: string }>`
      INSERT INTO outbox_events (event_id, type, entity, data, created_at, fanned_out_at)
      VALUES (gen_random_uuid(), 'room.updated', ${`room:${++entity}`}, '{}'::jsonb,
              now() - make_interval(days => ${days}),
              CASE WHEN ${fannedOut} THEN now() - make_interval(days => ${days}) END)
      RETURNING id`.pipe(
      Effect.map((rows) => Number(rows[0]!.id)),
      Effect.orDie
    )
  const delivery: Fixture["delivery"] = (eventId, status, days, attempts = 1) =>
    Effect.gen(function* () {
      const [row] = yield* sql<{ id: string }>`
        INSERT INTO webhook_deliveries (subscription_id, event_id, entity, status, attempts, created_at, finished_at)
        VALUES (${subscription!.id}, ${eventId}, 'room:x', ${status}, ${attempts},
                now() - make_interval(days => ${days + 1}),
                CASE WHEN ${status} <> 'pending' THEN now() - make_interval(days => ${days}) END)
        RETURNING id`
      yield* sql`INSERT INTO webhook_attempts (delivery_id, duration_ms, response_code)
                 SELECT ${row!.id}::bigint, 5, 500 FROM generate_series(1, ${attempts})`
      return Number(row!.id)
    }).pipe(Effect.orDie)
  return { event, delivery } satisfies Fixture
})

const ids = (table: "outbox_events" | "webhook_deliveries", among: ReadonlyArray<number>) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ id: string }>`SELECT id FROM ${sql(table)} WHERE id IN ${sql.in(among)} ORDER BY id`
  ).pipe(
    Effect.map((rows) => rows.map((r) => Number(r.id))),
    Effect.orDie
  )

const attemptsOf = (deliveries: ReadonlyArray<number>) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<{ n: number }>`SELECT count(*)::int AS n FROM webhook_attempts WHERE delivery_id IN ${sql.in(deliveries)}`
  ).pipe(
    Effect.map((rows) => rows[0]!.n),
    Effect.orDie
  )

layer(TestLayer, { timeout: "60 seconds" })("webhook retention", (it) => {
  it.effect("deletes what ended long ago and old events with no delivery left; never a pending one's event", () =>
    Effect.gen(function* () {
      const { delivery, event } = yield* fixture
      // gone: an old delivered delivery (3 attempts) and an old dead one, then their events
      const oldEvent = yield* event(40)
      const delivered = yield* delivery(oldEvent, "delivered", 35, 3)
      const deadEvent = yield* event(45)
      const dead = yield* delivery(deadEvent, "dead", 31, 15)
      const unsubscribed = yield* event(40) // fanned out to nobody
      // kept: a pending delivery of an old event (a disabled subscription's), and that event
      const waitingEvent = yield* event(60)
      const pending = yield* delivery(waitingEvent, "pending", 0, 15)
      // kept: an old event redelivered lately (its old delivery goes, the recent one stays)
      const redelivered = yield* event(50)
      const firstTry = yield* delivery(redelivered, "dead", 40)
      const retry = yield* delivery(redelivered, "delivered", 2)
      // kept: recent rows, and an old event not yet fanned out
      const recentEvent = yield* event(3)
      const recent = yield* delivery(recentEvent, "delivered", 1)
      const lonelyRecent = yield* event(29)
      const notFannedOut = yield* event(40, false)

      const pruned = yield* pruneWebhookHistory(RETENTION, 1_000).pipe(Effect.orDie)
      assert.deepStrictEqual(pruned, { deliveries: 3, events: 3 })
      assert.deepStrictEqual(yield* ids("webhook_deliveries", [delivered, dead, pending, firstTry, retry, recent]), [
        pending,
        retry,
        recent
      ])
      assert.strictEqual(yield* attemptsOf([delivered, dead, firstTry]), 0)
      assert.strictEqual(yield* attemptsOf([pending, retry, recent]), 17)
      assert.deepStrictEqual(
        yield* ids("outbox_events", [
          oldEvent,
          deadEvent,
          unsubscribed,
          waitingEvent,
          redelivered,
          recentEvent,
          lonelyRecent,
          notFannedOut
        ]),
        [waitingEvent, redelivered, recentEvent, lonelyRecent, notFannedOut]
      )
      // nothing left to do: a second run deletes nothing
      assert.deepStrictEqual(yield* pruneWebhookHistory(RETENTION, 1_000).pipe(Effect.orDie), {
        deliveries: 0,
        events: 0
      })
    })
  )

  it.effect("batches smaller than the work: statement after statement until all of it is deleted", () =>
    Effect.gen(function* () {
      const { delivery, event } = yield* fixture
      const events: Array<number> = []
      for (let i = 0; i < 7; i++) {
        const id = yield* event(40)
        events.push(id)
        yield* delivery(id, "delivered", 35, 2)
      }
      const pruned = yield* pruneWebhookHistory(RETENTION, 2).pipe(Effect.orDie)
      assert.deepStrictEqual(pruned, { deliveries: 7, events: 7 })
      assert.deepStrictEqual(yield* ids("outbox_events", events), [])
    })
  )

  it.scoped("the layer prunes at start and counts what it deleted", () =>
    Effect.gen(function* () {
      const { delivery, event } = yield* fixture
      const old = yield* event(40)
      yield* delivery(old, "dead", 35)
      const counted = yield* Deferred.make<{ readonly deliveries: number; readonly events: number }>()
      const metrics = WebhookMetrics.of({
        eventsFannedOut: () => Effect.void,
        fanOutFailed: Effect.void,
        attempt: () => Effect.void,
        lag: () => Effect.void,
        pruned: (deleted) => Deferred.succeed(counted, deleted)
      })
      yield* Layer.build(
        WebhookRetentionLive({ retention: RETENTION, batch: 100, every: "1 hour" }).pipe(
          Layer.provide(Layer.succeed(WebhookMetrics, metrics))
        )
      )
      assert.deepStrictEqual(yield* Deferred.await(counted), { deliveries: 1, events: 1 })
      assert.deepStrictEqual(yield* ids("outbox_events", [old]), [])
    })
  )
})

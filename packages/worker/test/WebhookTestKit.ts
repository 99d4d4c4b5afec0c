/**
 * What the dispatcher's database tests share (`WebhookClaim.test.ts`, `WebhookQueueLocks.test.ts`,
 * `WebhookRecordInClaim.test.ts`): a fresh database per file with its URL (for sessions of their own: plain pg
 * clients, so a transaction can be held open between steps), the dispatcher's settings under a test key, empty
 * webhook tables, subscriptions to every event whose secrets are encrypted under that key, deliveries written as
 * the fan-out writes them, and the checks of the queues' heads.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Database from "@shum/infra/Database"
import { databaseUrl, freshDatabase } from "@shum/infra/Testing"
import { makeCipher, generateSecret } from "@shum/infra/WebhookSigning"
import { Context, Duration, Effect, Layer, Logger, LogLevel, Option, Redacted, Schedule } from "effect"
import pg from "pg"
import type { DispatcherSettings } from "../src/WebhookDispatcher.js"

/** The test database's URL. */
export class Url extends Context.Tag("test/Url")<Url, string>() {}

/** A fresh database (8 connections) and its URL; errors only in the log. */
export const TestDatabase = Layer.unwrapScoped(
  Effect.map(freshDatabase, (connection) =>
    Layer.merge(Database.layer(connection, { poolSize: 8 }), Layer.succeed(Url, databaseUrl(connection.name)))
  )
).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Error)))

const KEY = Option.some(Redacted.make("webhook-test-key-webhook-test-key-webhook"))
export const cipher = makeCipher(KEY)

/** Six slots, five attempts retried at once, a 30 s lease, a 20 ms poll. */
export const SETTINGS: DispatcherSettings = {
  keyMaterial: KEY,
  maxAttempts: 5,
  retryBase: Duration.seconds(0),
  lease: Duration.seconds(30),
  pollInterval: Duration.millis(20),
  concurrency: 6,
  retention: Duration.days(30)
}

/** The webhook tables emptied, their ids from 1 again. */
export const fresh = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) =>
    sql`TRUNCATE webhook_attempts, webhook_deliveries, outbox_events, webhook_subscriptions RESTART IDENTITY CASCADE`
).pipe(Effect.orDie)

/** A subscription to every event at `http://127.0.0.1:9/<path>` (with the id `id` when given); its id. */
export const subscription = (path: string, options: { readonly enabled?: boolean; readonly id?: number } = {}) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => {
    const url = `http://127.0.0.1:9/${path}`
    const secret = cipher.encrypt(generateSecret())
    const enabled = options.enabled ?? true
    return (
      options.id === undefined
        ? sql<{ id: number }>`
            INSERT INTO webhook_subscriptions (url, events, secret, enabled)
            VALUES (${url}, '{*}', ${secret}, ${enabled}) RETURNING id`
        : sql<{ id: number }>`
            INSERT INTO webhook_subscriptions (id, url, events, secret, enabled)
            VALUES (${options.id}, ${url}, '{*}', ${secret}, ${enabled}) RETURNING id`
    ).pipe(Effect.map((rows) => rows[0]!.id))
  }).pipe(Effect.orDie)

/** A session of its own (a plain pg client), closed with the scope. */
export const session = Effect.acquireRelease(
  Effect.flatMap(Url, (url) =>
    Effect.promise(async () => {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      return client
    })
  ),
  (client) => Effect.promise(() => client.end())
)

export const query = (client: pg.Client, text: string, values: ReadonlyArray<unknown> = []) =>
  Effect.promise(() => client.query(text, [...values]))

/** Events `seqs` of room `room`, each with its pending delivery to `subscriptionId` (as the fan-out writes them). */
export const deliveries = (subscriptionId: number, room: number, seqs: ReadonlyArray<number>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.forEach(seqs, (seq) =>
      sql<{ id: string }>`
        WITH e AS (
          INSERT INTO outbox_events (event_id, type, entity, data, fanned_out_at)
          VALUES (gen_random_uuid(), 'room.updated', ${`room:${room}`}, ${JSON.stringify({ id: room, seq })}::jsonb,
                  now())
          RETURNING id, entity
        )
        INSERT INTO webhook_deliveries (subscription_id, event_id, entity)
        SELECT ${subscriptionId}, id, entity FROM e RETURNING id::text AS id`.pipe(Effect.map((rows) => rows[0]!.id))
    )
  ).pipe(Effect.orDie)

/** WebhooksRepo.redeliver's statement: the same event to the same subscription again. */
export const REDELIVER = `
  INSERT INTO webhook_deliveries (subscription_id, event_id, entity)
  SELECT subscription_id, event_id, entity FROM webhook_deliveries WHERE id = $1
  RETURNING id::text AS id`

/**
 * Pending deliveries whose `held` is wrong: held with no earlier pending delivery of their subscription and entity,
 * or not held with one (docs/decisions.md D16, migration 0025).
 */
export const misheld = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => sql<{ n: number }>`
    SELECT count(*)::int AS n FROM webhook_deliveries d
    WHERE d.status = 'pending' AND d.held <> EXISTS (
      SELECT 1 FROM webhook_deliveries o
      WHERE o.subscription_id = d.subscription_id AND o.entity = d.entity AND o.status = 'pending'
        AND (o.event_id, o.id) < (d.event_id, d.id))`
).pipe(
  Effect.map((rows) => rows[0]!.n),
  Effect.orDie
)

/** The first key of the queues' advisory locks (migration 0025). */
export const QUEUE_LOCK = 0x7768_7175

/**
 * Checks the queues' heads (`misheld`) every 100 ms for the scope's life: the counts seen, each to be 0 — the
 * heads stay right while dispatchers work.
 */
export const watchHeads = Effect.gen(function* () {
  const checks: Array<number> = []
  yield* Effect.forkScoped(
    Effect.flatMap(misheld, (n) => Effect.sync(() => checks.push(n))).pipe(
      Effect.zipRight(Effect.sleep("100 millis")),
      Effect.forever
    )
  )
  return checks as ReadonlyArray<number>
})

/** Whether delivery `id` is held. */
export const held = (id: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ held: boolean }>`SELECT held FROM webhook_deliveries WHERE id = ${id}::bigint`
  ).pipe(
    Effect.map((rows) => rows[0]?.held),
    Effect.orDie
  )

/** Until `n` sessions wait for an advisory lock. */
export const waitersOfAdvisoryLocks = (n: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`.pipe(
      Effect.map((rows) => rows[0]!.n),
      Effect.repeat({ until: (waiting) => waiting >= n, schedule: Schedule.spaced("20 millis") }),
      Effect.timeout("10 seconds"),
      Effect.orDie
    )
  )

/**
 * What the dispatcher's database tests share (`WebhookClaim.test.ts`, `WebhookQueueLocks.test.ts`): a fresh
 * database per file with its URL (for sessions of their own), the dispatcher's settings under a test key, empty
 * webhook tables, and subscriptions to every event whose secrets are encrypted under that key.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Database from "@shum/infra/Database"
import { databaseUrl, freshDatabase } from "@shum/infra/Testing"
import { makeCipher, generateSecret } from "@shum/infra/WebhookSigning"
import { Context, Duration, Effect, Layer, Logger, LogLevel, Option, Redacted } from "effect"
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

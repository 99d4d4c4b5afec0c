/**
 * Retention of webhook history (docs/decisions.md D16, docs/operations.md §14): deliveries that ended
 * (`delivered`, `dead`) more than `WEBHOOK_RETENTION_DAYS` ago are deleted with their attempts, then the
 * outbox events older than that which are fanned out and have no delivery left. An event with a delivery
 * still pending (a disabled subscription's, or one retrying) keeps it, so it is never deleted under a
 * delivery. Each statement deletes at most `batch` rows (`SKIP LOCKED`: workers share the work, and a row
 * in use is left for the next run), and a full batch is followed at once by another; it runs at start and
 * every `every`, in the worker and, in the embedded default, in the server (with the dispatcher).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, Layer, Schedule } from "effect"
import { WebhookMetrics } from "./WebhookMetrics.js"

export interface RetentionOptions {
  /** Age past which an ended delivery, and an event with none left, is deleted. */
  readonly retention: Duration.Duration
  /** Rows deleted per statement. */
  readonly batch: number
  /** Time between runs. */
  readonly every: Duration.DurationInput
}

export const RETENTION_DEFAULTS = { batch: 1_000, every: Duration.minutes(10) } as const

export interface Pruned {
  readonly deliveries: number
  readonly events: number
}

/** One run: batches until a short one, deliveries first (their events are then free to go). */
export const pruneWebhookHistory = (
  retention: Duration.Duration,
  batch: number
): Effect.Effect<Pruned, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const seconds = Duration.toSeconds(retention)
    const untilShort = (statement: Effect.Effect<ReadonlyArray<{ n: number }>, SqlError>) => {
      const loop = (total: number): Effect.Effect<number, SqlError> =>
        Effect.flatMap(statement, (rows) => {
          const n = rows[0]?.n ?? 0
          return n < batch ? Effect.succeed(total + n) : loop(total + n)
        })
      return loop(0)
    }
    // attempts go with their delivery (ON DELETE CASCADE)
    const deliveries = yield* untilShort(sql<{ n: number }>`
      WITH doomed AS (
        SELECT id FROM webhook_deliveries
        WHERE status <> 'pending' AND finished_at < now() - make_interval(secs => ${seconds})
        ORDER BY finished_at LIMIT ${batch}
        FOR UPDATE SKIP LOCKED
      ),
      deleted AS (DELETE FROM webhook_deliveries d USING doomed WHERE d.id = doomed.id RETURNING 1)
      SELECT count(*)::int AS n FROM deleted`)
    // a delivery made meanwhile (a redelivery) locks its event (the foreign key's KEY SHARE): skipped
    const events = yield* untilShort(sql<{ n: number }>`
      WITH doomed AS (
        SELECT e.id FROM outbox_events e
        WHERE e.created_at < now() - make_interval(secs => ${seconds}) AND e.fanned_out_at IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
        ORDER BY e.created_at LIMIT ${batch}
        FOR UPDATE SKIP LOCKED
      ),
      deleted AS (DELETE FROM outbox_events e USING doomed WHERE e.id = doomed.id RETURNING 1)
      SELECT count(*)::int AS n FROM deleted`)
    return { deliveries, events }
  }).pipe(Effect.withSpan("WebhookRetention.prune", { captureStackTrace: false }))

/** The retention as a fiber of the process's scope: a failed run is logged, and the next runs on time. */
export const WebhookRetentionLive = (options: RetentionOptions) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const metrics = yield* WebhookMetrics
      return yield* pruneWebhookHistory(options.retention, options.batch).pipe(
        Effect.tap((pruned) =>
          pruned.deliveries + pruned.events > 0
            ? Effect.zipRight(
                metrics.pruned(pruned),
                Effect.logInfo(
                  `webhook retention: deleted ${pruned.deliveries} ended deliveries and ${pruned.events} events older than ${Duration.format(options.retention)}`
                )
              )
            : Effect.void
        ),
        Effect.catchAllCause((cause) => Effect.logWarning("webhook retention failed; retrying at the next run", cause)),
        Effect.repeat(Schedule.spaced(options.every)),
        Effect.annotateLogs("component", "webhooks"),
        Effect.forkScoped
      )
    })
  )

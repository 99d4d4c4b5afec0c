/**
 * The expiry of holds (docs/data.md BR-13): every few seconds, the holds past `expires_at` are marked
 * `expired` and their nights given back, in batches of `batch`, by the database function `holds_sweep`
 * (migration 0008): `FOR UPDATE SKIP LOCKED` on the holds — so sweepers in several processes never wait for
 * each other, and a hold a confirm has locked is left to the confirm (which then finds it expired itself) —
 * then their nights locked in (room, night) order, as bookings lock them.
 *
 * Correctness never waits for the sweep: an active hold past `expires_at` already takes nothing (the searches
 * subtract it, a booking or hold needing its nights releases it first). The sweep keeps the inventory's
 * `held` counts and the holds' `status` current for everything else (reports, `GET /holds/{id}` rows read
 * directly, the per-user cap's index). It runs in the worker (`main.ts`) and, in the embedded default, inside
 * the server (`server/src/Holds/HoldSweepInProcess.ts`).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { outboxInsertSql } from "@shum/infra/Outbox"
import type { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, Layer, Schedule } from "effect"

export interface HoldSweepOptions {
  /** Time between sweeps. */
  readonly every: Duration.DurationInput
  /** Holds expired per statement (per transaction); a full batch is followed at once by another. */
  readonly batch: number
  /** Told how many holds each statement expired (the process's `holds_expired_total`). */
  readonly onExpired: (count: number) => Effect.Effect<void>
}

/** `hold.expired` of each hold the sweep expired, written by the sweep's statement (docs/decisions.md D16). */
const SWEPT = outboxInsertSql({
  type: "hold.expired",
  id: "h.id",
  hotelId: "rm.hotel_id",
  data:
    "jsonb_build_object('id', h.id, 'hotel_id', rm.hotel_id, 'room_id', h.room_id, 'user_id', h.user_id, " +
    "'date_from', h.date_from, 'date_to', h.date_to, 'price', h.price, 'status', 'expired')",
  from: "s JOIN holds h ON h.id = s.id JOIN rooms rm ON rm.id = h.room_id",
  where: "true"
})

export const HOLD_SWEEP_DEFAULTS = { every: Duration.seconds(5), batch: 500 } as const

/** One sweep: statements of `batch` until one expires fewer; the number of holds expired in all. */
export const sweepExpiredHolds = (
  batch: number,
  onExpired: (count: number) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<number, SqlError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => {
    const round = (total: number): Effect.Effect<number, SqlError> =>
      sql<{ id: number }>`
        WITH s AS MATERIALIZED (SELECT id FROM holds_sweep(${batch}::integer) AS id),
        event AS (${sql.unsafe(SWEPT)})
        SELECT id FROM s`.pipe(
        Effect.tap((rows) => (rows.length > 0 ? onExpired(rows.length) : Effect.void)),
        Effect.flatMap((rows) =>
          rows.length < batch ? Effect.succeed(total + rows.length) : round(total + rows.length)
        )
      )
    return round(0)
  }).pipe(Effect.withSpan("HoldSweep.sweep", { captureStackTrace: false }))

/** The sweep as a fiber of the process's scope: a failed sweep is logged and the next one runs on time. */
export const HoldSweepLive = (options: HoldSweepOptions) =>
  Layer.scopedDiscard(
    sweepExpiredHolds(options.batch, options.onExpired).pipe(
      Effect.tap((n) => (n > 0 ? Effect.logDebug(`expired ${n} hold(s)`) : Effect.void)),
      Effect.catchAllCause((cause) => Effect.logWarning("hold sweep failed; retrying at the next one", cause)),
      Effect.repeat(Schedule.spaced(options.every)),
      Effect.forkScoped
    )
  )

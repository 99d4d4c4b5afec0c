/**
 * `Idempotency-Key` of `POST /bookings` (D2), kept in Postgres for 24 h.
 *
 * A key is claimed inside the booking's transaction, before anything else: the row is uncommitted until
 * the booking commits, so a concurrent duplicate's claim waits on it and then finds the outcome. A request
 * that fails rolls its claim back with everything else, so only successful outcomes are remembered and a
 * retry after a failure is simply tried again. An expired key (older than 24 h) counts as unused.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Schedule } from "effect"
import { createHash } from "node:crypto"

export const IDEMPOTENCY_TTL = "24 hours"

export type Claim =
  /** The key is ours: go on, then `complete` it in the same transaction. */
  | { readonly _tag: "Claimed" }
  /** The same request was already carried out: answer with its response. */
  | { readonly _tag: "Replay"; readonly response: unknown; readonly bookingId: number | null }
  /** The key was used for another request. */
  | { readonly _tag: "Mismatch" }

/** A stable hash of a request body: the same decoded body always gives the same hash. */
export const requestHash = (canonical: ReadonlyArray<string | number>): string =>
  createHash("sha256").update(JSON.stringify(canonical), "utf8").digest("hex")

export class IdempotencyKeys extends Effect.Service<IdempotencyKeys>()("server/IdempotencyKeys", {
  scoped: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const claim = (userId: number, key: string, hash: string): Effect.Effect<Claim, SqlError> =>
      Effect.gen(function* () {
        const claimed = yield* sql`
          INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES (${userId}, ${key}, ${hash})
          ON CONFLICT (user_id, key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash, booking_id = NULL, response = NULL, created_at = now()
            WHERE idempotency_keys.created_at < now() - ${IDEMPOTENCY_TTL}::interval
          RETURNING 1`
        if (claimed.length > 0) return { _tag: "Claimed" } as const
        const [seen] = yield* sql<{ request_hash: string; response: unknown; booking_id: number | null }>`
          SELECT request_hash, response, booking_id FROM idempotency_keys WHERE user_id = ${userId} AND key = ${key}`
        // purged or deleted in between: claim again
        if (seen === undefined) return yield* claim(userId, key, hash)
        return seen.request_hash === hash
          ? ({ _tag: "Replay", response: seen.response, bookingId: seen.booking_id } as const)
          : ({ _tag: "Mismatch" } as const)
      })

    const complete = (userId: number, key: string, bookingId: number, response: unknown) =>
      sql`UPDATE idempotency_keys SET booking_id = ${bookingId}, response = ${JSON.stringify(response)}::jsonb
          WHERE user_id = ${userId} AND key = ${key}`.pipe(Effect.asVoid)

    const purge = sql<{ n: number }>`
      WITH gone AS (DELETE FROM idempotency_keys WHERE created_at < now() - ${IDEMPOTENCY_TTL}::interval RETURNING 1)
      SELECT count(*)::int AS n FROM gone`.pipe(
      Effect.map((rows) => rows[0]?.n ?? 0),
      Effect.withSpan("IdempotencyKeys.purge")
    )

    // expired keys already count as unused; this only keeps the table small
    yield* purge.pipe(
      Effect.tap((n) => (n > 0 ? Effect.logDebug(`purged ${n} expired idempotency keys`) : Effect.void)),
      Effect.catchAllCause((cause) => Effect.logWarning("idempotency key purge failed", cause)),
      Effect.repeat(Schedule.spaced("1 hour")),
      Effect.forkScoped
    )

    return { claim, complete, purge } as const
  })
}) {}

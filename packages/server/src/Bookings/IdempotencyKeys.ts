/**
 * `Idempotency-Key` of `POST /bookings` (D2), kept in Postgres for 24 h.
 *
 * A key is claimed by the booking's own statement (`book_stay`, migration 0007), before anything else: the row
 * is uncommitted until the booking commits, so a concurrent duplicate's claim waits on it and then finds the
 * outcome. A request that is refused leaves no key behind (and one that fails rolls its claim back with
 * everything else), so only successful outcomes are remembered and a retry after a failure is simply tried
 * again. An expired key (older than 24 h) counts as unused; this service only purges them.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Schedule } from "effect"
import { createHash } from "node:crypto"

/** How long a key is remembered (docs/data.md §1.13); an older one counts as unused. */
export const IDEMPOTENCY_TTL = "24 hours"

/** A stable hash of a request body: the same decoded body always gives the same hash. */
export const requestHash = (canonical: ReadonlyArray<string | number>): string =>
  createHash("sha256").update(JSON.stringify(canonical), "utf8").digest("hex")

export class IdempotencyKeys extends Effect.Service<IdempotencyKeys>()("server/IdempotencyKeys", {
  scoped: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

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

    return { purge } as const
  })
}) {}

/**
 * A statement run on the pool straight from a fixed text, for the hottest writes (`POST /bookings`, `POST /holds`,
 * `POST /holds/{id}/confirm`: one statement each, never inside a transaction). `@effect/sql` builds every
 * statement anew on each call — the text compiled from its template, a span (a no-op without tracing), a scope,
 * the connection acquired as an Effect — about 50 µs of the server's CPU per statement on top of `pg` itself
 * (bench/README.md, "Issue 18 and 19: the write path"). Here the text is a constant with `$n` placeholders, so
 * `PreparedStatements.ts` names it by a hash computed once, and a call is the pool's `connect` and the client's
 * `query`, as `@effect/sql-pg` makes them.
 *
 * The same as through `@effect/sql`, on purpose: the pool's type parsers and named statements, the `db_*`
 * metrics (`QueryObserver`, on the pool's clients), the `SqlError`s and their messages (`Failed to acquire
 * connection`, `Connection error`, `Failed to execute statement`, with the driver's error as `cause`, which
 * `SqlFailures.ts` reads), a connection that fails released as broken, and an interrupted statement cancelled
 * (`pg_cancel_backend`, best effort, at most 5 s) with its connection given back. Not for a statement inside
 * `sql.withTransaction`: it would run on another connection. While tracing is enabled each statement is a
 * `sql.execute` client span with the attributes `@effect/sql-pg` gives one (`db.system.name`,
 * `db.operation.name`, `db.query.text`), so a traced booking shows its statement as every other request does.
 */
import { SqlError } from "@effect/sql/SqlError"
import { Context, Effect } from "effect"
import type pg from "pg"
import { waitWithin } from "./BoundedWait.js"
import { spanned } from "./Telemetry.js"

/** The pool the `SqlClient` runs on (`Database.ts`), for `runDirect`. */
export class PgPool extends Context.Tag("infra/PgPool")<PgPool, pg.Pool>() {}

/** A best-effort cancel of what `client` runs, made once per connection (as `@effect/sql-pg` does). */
const cancels = new WeakMap<pg.PoolClient, Effect.Effect<void>>()
const cancelOf = (pool: pg.Pool, client: pg.PoolClient): Effect.Effect<void> => {
  const known = cancels.get(client)
  if (known !== undefined) return known
  const processId = (client as unknown as { processID?: number }).processID
  const cancel =
    processId === undefined
      ? Effect.void
      : // run by a canceler, uninterruptibly: a bounded wait (BoundedWait.ts), which a second interruption cannot cut
        // short — the client is handed back to the pool only after its statement was cancelled (or 5 s passed)
        waitWithin<void>("5 seconds", (done) => {
          if (pool.ending) return done()
          pool.query(`SELECT pg_cancel_backend(${processId})`, () => done())
        }).pipe(Effect.asVoid)
  cancels.set(client, cancel)
  return cancel
}

/** Runs `text` (placeholders `$1` …) with `values` on a connection of `pool`: its rows. */
export const runDirect = <Row>(
  pool: pg.Pool,
  text: string,
  values: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<Row>, SqlError> =>
  spanned("sql.execute", {
    kind: "client",
    captureStackTrace: false,
    attributes: { "db.system.name": "postgresql", "db.operation.name": "execute", "db.query.text": text }
  })(runOnPool<Row>(pool, text, values))

const runOnPool = <Row>(
  pool: pg.Pool,
  text: string,
  values: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<Row>, SqlError> =>
  Effect.async<ReadonlyArray<Row>, SqlError>((resume) => {
    let done = false
    let client: pg.PoolClient | undefined
    const cleanup = (cause?: Error) => {
      if (!done) client?.release(cause)
      done = true
      client?.off("error", onError)
    }
    const onError = (cause: Error) => {
      cleanup(cause)
      resume(Effect.fail(new SqlError({ cause, message: "Connection error" })))
    }
    pool.connect((cause, acquired) => {
      if (cause) return resume(Effect.fail(new SqlError({ cause, message: "Failed to acquire connection" })))
      if (!acquired) {
        return resume(
          Effect.fail(new SqlError({ cause: new Error("No client returned"), message: "Failed to acquire connection" }))
        )
      }
      if (done) return acquired.release()
      client = acquired
      client.once("error", onError)
      client.query(text, values as Array<unknown>, (error: Error | null, result: pg.QueryResult) => {
        cleanup()
        resume(
          error
            ? Effect.fail(new SqlError({ cause: error, message: "Failed to execute statement" }))
            : Effect.succeed(result.rows as Array<Row>)
        )
      })
    })
    // interrupted: a statement under way is cancelled, then its connection given back
    return Effect.suspend(() => {
      if (client === undefined || done) {
        cleanup()
        return Effect.void
      }
      return Effect.ensuring(cancelOf(pool, client), Effect.sync(cleanup))
    })
  })

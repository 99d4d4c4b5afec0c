/**
 * Named prepared statements for `@effect/sql-pg`, which sends every statement unnamed: PostgreSQL then
 * parses, analyses and plans it on every execution, which for the short catalogue and booking statements
 * costs more than running them (measured with `npm run bench`: about half of PostgreSQL's CPU per
 * `GET /hotels`). Here each connection of the pool names a parameterised statement by a hash of its text,
 * so `pg` sends the Parse once per connection and afterwards only Bind/Execute; PostgreSQL keeps the plan
 * (re-planning by itself when a table it uses changes, and choosing a generic or a custom plan per
 * execution as it does for any prepared statement).
 *
 * Bounded: statements without parameters (DDL, migrations, multi-statement scripts: the simple protocol)
 * stay unnamed, so do those with many parameters (bulk inserts, long `IN` lists, whose text varies with
 * the count), and a connection names at most `MAX_PER_CONNECTION` distinct statements. A statement whose
 * result columns changed under it (`cached plan must not change result type`, after a migration on a live
 * database) fails once, and is prepared afresh under a new name on its next execution.
 * Not for a transaction-pooling PgBouncer older than 1.21 (it cannot keep named statements).
 *
 * The same hook times every statement `@effect/sql` runs (the callback form it uses) for a
 * `QueryObserver` (the server's `db_*` metrics), spans or not.
 */
import { createHash } from "node:crypto"
import type pg from "pg"

/** Statements with more parameters stay unnamed (`Catalogue/AvailabilitySearch.ts` sizes its batches by it). */
export const MAX_PARAMETERS = 32
const MAX_PER_CONNECTION = 500
const MAX_NAMES = 5_000

/** Statement text → its name; `generation` bumps after a result-type change. */
const names = new Map<string, string>()
const generation = new Map<string, number>()

const nameOf = (text: string): string => {
  const known = names.get(text)
  if (known !== undefined) return known
  const name = `shum_${createHash("sha1")
    .update(`${generation.get(text) ?? 0}\0${text}`)
    .digest("base64url")
    .slice(0, 22)}`
  if (names.size < MAX_NAMES) names.set(text, name)
  return name
}

/** SQLSTATE 0A000 with this message: the statement must be prepared again. */
const isStalePlan = (error: unknown) =>
  (error as { code?: unknown } | null)?.code === "0A000" &&
  /cached plan must not change result type/.test(String((error as { message?: unknown }).message))

type Callback = (error: Error | null, result?: unknown) => void
type Query = (config: unknown, values?: unknown, callback?: unknown) => unknown

/** Told of each statement when it ends: its text and how long it took, in seconds. */
export type ObserveQuery = (text: string, seconds: number) => void

const textOf = (config: unknown): string | undefined =>
  typeof config === "string" ? config : ((config as { text?: unknown } | null)?.text as string | undefined)

/** `query`, with each callback-form statement timed for `observe`. */
const observed =
  (query: Query, observe: ObserveQuery): Query =>
  (config, values, callback) => {
    const done = typeof callback === "function" ? callback : typeof values === "function" ? values : undefined
    const text = textOf(config)
    if (done === undefined || text === undefined) return query(config, values, callback)
    const start = performance.now()
    const timed = (error: Error | null, result?: unknown) => {
      observe(text, (performance.now() - start) / 1000)
      ;(done as Callback)(error, result)
    }
    return done === callback ? query(config, values, timed) : query(config, timed)
  }

/**
 * Makes this pool's clients name their parameterised statements (call before the pool connects), and
 * time every statement for `observe` when given.
 */
export const prepareStatements = (pool: pg.Pool, observe?: ObserveQuery): void => {
  pool.on("connect", (client) => {
    const bound = client.query.bind(client) as Query
    const query = observe === undefined ? bound : observed(bound, observe)
    const prepared = new Set<string>()
    const forget = (text: string, name: string) => (error: unknown) => {
      if (!isStalePlan(error)) return
      prepared.delete(name)
      names.delete(text)
      generation.set(text, (generation.get(text) ?? 0) + 1)
    }
    ;(client as unknown as { query: Query }).query = (config, values, callback) => {
      if (
        typeof config !== "string" ||
        !Array.isArray(values) ||
        values.length === 0 ||
        values.length > MAX_PARAMETERS
      ) {
        return query(config, values, callback)
      }
      const name = nameOf(config)
      if (!prepared.has(name)) {
        if (prepared.size >= MAX_PER_CONNECTION) return query(config, values, callback)
        prepared.add(name)
      }
      const onError = forget(config, name)
      const named = { name, text: config, values }
      if (typeof callback === "function") {
        return query(named, (error: Error | null, result?: unknown) => {
          if (error) onError(error)
          ;(callback as Callback)(error, result)
        })
      }
      return (query(named) as Promise<unknown>).catch((error: unknown) => {
        onError(error)
        throw error
      })
    }
  })
}

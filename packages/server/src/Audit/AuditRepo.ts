/**
 * The `audit_log` table's reads (docs/data.md §1.13a, BR-15; docs/decisions.md D17). Its rows are written by
 * `AuditTrail.ts` only; the table refuses UPDATE, DELETE and TRUNCATE (migration 0009).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { AuditEntity } from "@shum/domain/Audit"
import { Data, Effect } from "effect"
import { where } from "../Catalogue/SqlFilters.js"

export interface AuditRow {
  readonly id: number
  readonly at: string
  readonly actor_id: number | null
  readonly actor_email: string | null
  readonly action: string
  readonly entity: string
  readonly entity_id: string | null
  readonly changes: Readonly<Record<string, unknown>>
  readonly request_id: string | null
}

export interface AuditFilter {
  readonly entity?: AuditEntity | undefined
  readonly entityId?: string | undefined
  readonly actorId?: number | undefined
  readonly action?: string | undefined
  /** ISO-8601, inclusive. */
  readonly from?: string | undefined
  /** ISO-8601, exclusive. */
  readonly to?: string | undefined
  /** Rows with a smaller id only (the cursor). */
  readonly before?: number | undefined
  readonly limit: number
}

/**
 * The most one page's query may cost (docs/decisions.md D11, D17): each filter alone is served by an index in
 * id order (0009, 0016), but filters combined, or a time range far from the newest rows, can make it walk
 * rows it then discards — as many as the table holds. The query runs under `statement_timeout` (in its own
 * transaction, `SET LOCAL`), and one that would take longer is answered `AuditQueryTooBroad` (a 422).
 */
export const AUDIT_QUERY_BUDGET_MS = 500

/** The page's query ran out of its budget (`AUDIT_QUERY_BUDGET_MS`). */
export class AuditQueryTooBroad extends Data.TaggedError("AuditQueryTooBroad")<{}> {}

/** PostgreSQL's `query_canceled`, which `statement_timeout` raises. */
const QUERY_CANCELED = "57014"

export class AuditRepo extends Effect.Service<AuditRepo>()("server/AuditRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /** Newest first (by id: the order rows were written in); each filter has an index in id order (0009, 0016). */
    const select = (q: AuditFilter) =>
      sql<AuditRow>`
        SELECT id::float8 AS id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
               actor_id, actor_email, action, entity, entity_id, changes, request_id
        FROM audit_log
        WHERE ${where(sql, [
          q.entity === undefined ? undefined : sql`entity = ${q.entity}`,
          q.entityId === undefined ? undefined : sql`entity_id = ${q.entityId}`,
          q.actorId === undefined ? undefined : sql`actor_id = ${q.actorId}`,
          q.action === undefined ? undefined : sql`action = ${q.action}`,
          q.from === undefined ? undefined : sql`at >= ${q.from}::timestamptz`,
          q.to === undefined ? undefined : sql`at < ${q.to}::timestamptz`,
          q.before === undefined ? undefined : sql`id < ${q.before}`
        ])}
        ORDER BY id DESC LIMIT ${q.limit}`

    const list = (q: AuditFilter) =>
      sql
        .unsafe(`SET LOCAL statement_timeout = ${AUDIT_QUERY_BUDGET_MS}`)
        .pipe(Effect.zipRight(select(q)), sql.withTransaction)

    return {
      /** A page, or `AuditQueryTooBroad` when its query would cost more than `AUDIT_QUERY_BUDGET_MS`. */
      list: (filter: AuditFilter) =>
        list(filter).pipe(
          Effect.catchTag("SqlError", (error) =>
            (error.cause as { code?: unknown } | undefined)?.code === QUERY_CANCELED
              ? Effect.fail(new AuditQueryTooBroad())
              : Effect.die(error)
          )
        )
    } as const
  })
}) {}

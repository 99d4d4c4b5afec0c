/**
 * SQL pieces shared by the catalogue repositories.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
/**
 * docs/api.md §1.7: `lower(column) LIKE '%' || lower(value) || '%'`. `%` and `_` in the value are deliberately
 * NOT escaped — they act as wildcards, as in the original, and clients may rely on it; an empty value
 * matches everything. `column` is always a constant of ours, never input.
 */
export const contains = (sql: SqlClient.SqlClient, column: string, value: string): Statement.Fragment =>
  sql`lower(${sql.literal(column)}) LIKE '%' || lower(${value}) || '%'`

/** The conditions that apply (`undefined` = filter not asked for), joined with AND (`1=1` when none). */
export const where = (
  sql: SqlClient.SqlClient,
  conditions: ReadonlyArray<Statement.Fragment | undefined>
): Statement.Fragment => sql.and(conditions.filter((c): c is Statement.Fragment => c !== undefined))

/** `(page - 1) * per_page` and `per_page`, from `pageOf` (docs/api.md §1.6). */
export interface Page {
  readonly limit: number
  readonly offset: number
}

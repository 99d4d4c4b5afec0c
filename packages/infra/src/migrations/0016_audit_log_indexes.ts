/**
 * The audit log's reads (docs/decisions.md D17, docs/api.md §15): `GET /audit` pages newest first by id, each
 * filter with an index that yields its rows in that order, so a page costs its rows whatever the table
 * holds — by action, by entity alone (0009 has entity with entity_id, and actor), by time.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE INDEX ix_audit_log_action ON audit_log (action, id);
CREATE INDEX ix_audit_log_entity_only ON audit_log (entity, id);
CREATE INDEX ix_audit_log_at_id ON audit_log (at, id);
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

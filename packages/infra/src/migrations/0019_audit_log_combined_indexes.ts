/**
 * GET /audit's filters combined (docs/decisions.md D17, docs/api.md §15): `action` with `entity`, and either
 * with `actor_id`, each served by an index whose prefix is exactly those filters, then id — so a page walks
 * only its rows instead of one filter's rows discarding the others' (0016 has each filter alone; an
 * `entity_id` narrows to one entity's rows through 0009's index). Anything the indexes do not serve has the
 * query's budget (`Audit/AuditRepo.ts`).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE INDEX ix_audit_log_action_entity ON audit_log (action, entity, id);
CREATE INDEX ix_audit_log_actor_entity ON audit_log (actor_id, entity, id);
CREATE INDEX ix_audit_log_actor_action ON audit_log (actor_id, action, id);
CREATE INDEX ix_audit_log_actor_action_entity ON audit_log (actor_id, action, entity, id);
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

/**
 * Retention of webhook history (docs/decisions.md D16, docs/operations.md §14): the worker deletes the
 * deliveries that ended longer ago than `WEBHOOK_RETENTION_DAYS`, and then the old events with no delivery
 * left. Each deletion reads an index instead of the tables: ended deliveries by when they ended, events by
 * age, and a delivery by its event — which the "no delivery left" test and the foreign key's check on each
 * deleted event need (there was none: the check read every delivery).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE INDEX ix_webhook_deliveries_ended ON webhook_deliveries (finished_at) WHERE status <> 'pending';
CREATE INDEX ix_webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX ix_outbox_events_created_at ON outbox_events (created_at);
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

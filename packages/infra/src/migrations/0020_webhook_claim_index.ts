/**
 * The webhook claim's cost independent of the backlog (docs/decisions.md D16, `WebhookDispatcher.ts`): the
 * claim reads each subscription's first due deliveries in its own order (`next_attempt_at`, then id), so an
 * index over the pending deliveries in exactly that order, per subscription, gives them without reading the
 * rest of the backlog (0009's `ix_webhook_deliveries_pending` has no subscription and no id: the claim sorted
 * every pending row; nothing else reads it, so it goes: one index less to write on each delivery's every
 * change). A ping is sent to a disabled subscription too: its deliveries are found from its ping
 * events (few), never by walking that subscription's backlog.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE INDEX ix_webhook_deliveries_claim ON webhook_deliveries (subscription_id, next_attempt_at, id)
  WHERE status = 'pending';
DROP INDEX ix_webhook_deliveries_pending;
CREATE INDEX ix_outbox_events_ping ON outbox_events (subscription_id) WHERE subscription_id IS NOT NULL;
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

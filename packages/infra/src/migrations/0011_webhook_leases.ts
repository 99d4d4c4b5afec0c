/**
 * Fair webhook delivery (docs/decisions.md D16): the dispatcher's claim counts each subscription's deliveries
 * in flight (a lease held) so that no subscription takes more than its share of the slots. The partial index
 * holds only those rows — a lease is cleared when its attempt is recorded — so the count never reads the
 * backlog of pending deliveries.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE INDEX ix_webhook_deliveries_leased ON webhook_deliveries (subscription_id) WHERE leased_until IS NOT NULL;
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

/**
 * The original's `ix_bookings_room_id` and `ix_bookings_date_to` back on a database that ran the withdrawn
 * version of `0030` (docs/data.md §1.8, D8); everywhere else they exist and this does nothing.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE INDEX IF NOT EXISTS ix_bookings_room_id ON bookings (room_id);
CREATE INDEX IF NOT EXISTS ix_bookings_date_to ON bookings (date_to);
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

/**
 * Two index inserts fewer per booking (docs/data.md §1.8; docs/decisions.md D8; bench/README.md, "The write path
 * in PostgreSQL"): the original's `ix_bookings_room_id` and `ix_bookings_date_to` are dropped, also on a database
 * adopted from the original. Every lookup of bookings by room — a room's delete cascading to its bookings, the
 * cascade events' locks and joins (`Catalogue/CascadeEvents.ts`) — is served by `ix_bookings_room_dates
 * (room_id, date_from, date_to)`, whose first column it is (checked with `EXPLAIN`), and no statement of the
 * service filters or orders bookings by `date_to` alone. A booking made directly or by a hold's confirm writes
 * four index entries instead of six: 24.7 K of a booking's 1.61 M instructions in PostgreSQL (−1.5%, callgrind on
 * a single-user backend over the bench's seeded database).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
DROP INDEX IF EXISTS ix_bookings_room_id;
DROP INDEX IF EXISTS ix_bookings_date_to;
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

/**
 * Withdrawn: this migration dropped the original's `ix_bookings_room_id` and `ix_bookings_date_to` for a day on
 * main (2026-12-08) and was taken back — index names are part of the contract (docs/data.md §1.8, docs/decisions.md
 * D8). It does nothing now; its number stays taken, so that no later migration reuses it (a database that ran the
 * dropping version has 30 recorded and would skip a new 0030 without a word). `0031` puts the two indexes back
 * where that version ran.
 */
import { Effect } from "effect"

export default Effect.void

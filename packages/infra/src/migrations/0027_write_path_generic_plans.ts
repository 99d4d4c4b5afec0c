/**
 * The write path's statements planned once per connection instead of on every call (docs/data.md §1.12, §1.13b;
 * bench/README.md, "The write path in PostgreSQL"). Same functions, same signatures, same answers and locks:
 *
 * - `session_refusal` (0014) in PL/pgSQL, one statement. As a SQL function with a `FROM` it could not be inlined,
 *   so each call parsed, analysed and planned its body again (a SQL function's plan lives only as long as the
 *   calling expression, here one booking, hold or confirm): 13% of PostgreSQL's instructions per booking. A
 *   PL/pgSQL function keeps its statement's plan for the connection. Same answers: `no_user` without the user,
 *   `token_invalid` when `p_version` is not its `token_version` or `p_jti` is revoked, else NULL; STABLE, so it
 *   reads the caller's snapshot as before.
 * - `plan_cache_mode = force_generic_plan` on the functions that write a stay (`book_stay`, `hold_place`,
 *   `hold_confirm`) and on the two that insert its nights (`bookings_take_nights_of_row`, the bookings' insert
 *   trigger, and `holds_take_nights`), which also covers what they call (`take_nights`, the triggers, the
 *   foreign keys' checks). The nights' upsert reads `generate_series(0, nights − 1)`: with its bounds as
 *   parameters a generic plan is costed at 1,000 rows, so PostgreSQL's plan cache judged it dearer than a plan
 *   for the actual bounds and planned the statement again on every call (11% of a booking's instructions).
 *   The generic plans are the same index scans by `(room_id, night)`, by the holds' partial indexes and by
 *   primary key that the custom ones were.
 *
 * Measured with `valgrind --tool=callgrind` on a single-user backend over a copy of the bench's seeded database,
 * 300 `POST /bookings` statements (random room, 1–7 nights within three years, as `npm run bench`'s `book-many`)
 * as the server sends them (a named prepared statement, its outbox event included): 2.12 M instructions per
 * booking before, 1.59 M after (−25%); a hold and its confirm on a random room 5.55 M → 4.71 M (−15%).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE OR REPLACE FUNCTION session_refusal(p_user integer, p_jti text, p_version bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_version integer;
  v_revoked boolean;
BEGIN
  SELECT u.token_version, EXISTS (SELECT 1 FROM revoked_access_tokens t WHERE t.jti = p_jti)
  INTO v_version, v_revoked
  FROM users u WHERE u.id = p_user;
  IF NOT FOUND THEN
    RETURN 'no_user';
  END IF;
  IF v_version <> p_version OR v_revoked THEN
    RETURN 'token_invalid';
  END IF;
  RETURN NULL;
END $$;

ALTER FUNCTION book_stay(integer, integer, date, date, date, varchar, text, interval)
  SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION hold_place(integer, integer, date, date, date, integer, integer, varchar, text, interval)
  SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION hold_confirm(integer, integer, boolean) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION bookings_take_nights_of_row() SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION holds_take_nights(integer, date, date) SET plan_cache_mode = force_generic_plan;
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

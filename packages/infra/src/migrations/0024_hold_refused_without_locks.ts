/**
 * A hold refused as sold out takes no lock and writes nothing (docs/data.md §1.13b, BR-13): `hold_place` (0008's,
 * same signature and outcomes) first judges a stay without an `Idempotency-Key` on one snapshot of the committed
 * state — the room exists, the dates are valid, the caller has fewer than `p_max_active` active holds, and a
 * night of the stay is full even with every expired hold on it counted free (the look of `take_nights`, 0017) —
 * and then answers `sold_out` with those nights at once. Anything else goes the way of 0008 (the key claimed,
 * the room share-locked, the user's advisory lock, `take_nights`), which alone takes anything.
 *
 * Why: since 0017 a refusal waited for no night's lock, but it still share-locked the hot room's row first (a
 * row lock is written into the row: the transaction got an id, wrote WAL, a multixact with every other hold in
 * flight on that room, and flushed its commit to disk) and took the user's advisory lock. In a sell-out half the
 * holds are such refusals: `pgbench`, 20 clients on one sold-out room, 1,600–2,700 refusals/s before, 7,900–
 * 9,300 after (bench/README.md, "Holds"). The answer is the same as 0017's: as of the committed state its
 * statement sees, the order of the refusals kept (`no_room`, `stay_invalid`, `stay_in_past`, `too_many` are
 * answered by the locked path, before `sold_out`); it never takes anything, so it cannot oversell.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE OR REPLACE FUNCTION hold_place(
  p_room integer, p_user integer, p_from date, p_to date, p_today date, p_ttl_seconds integer,
  p_max_active integer, p_key varchar DEFAULT NULL, p_hash text DEFAULT NULL, p_key_ttl interval DEFAULT '24 hours'
) RETURNS TABLE (outcome text, answer jsonb, full_nights date[])
LANGUAGE plpgsql AS $$
DECLARE
  v_price integer;
  v_total bigint;
  v_full date[];
  v_claim record;
  v_active integer;
  v_answer jsonb;
  v_outcome text;
BEGIN
  -- a stay sold out is refused before any lock or write, on one snapshot of the committed state: the room, the
  -- caller's active holds (fewer than p_max_active, else too_many is the answer: the locked path below) and the
  -- nights full even with every expired hold on them counted free (take_nights' look, 0017). With a key the
  -- claim comes first (a replay answers the first hold), so that path is the locked one.
  IF p_key IS NULL AND p_from < p_to AND p_from >= p_today THEN
    SELECT array_agg(n.night ORDER BY n.night) INTO v_full
    FROM rooms r
    JOIN room_nights n ON n.room_id = r.id AND n.night >= p_from AND n.night < p_to
    WHERE r.id = p_room AND r.quantity >= 1
      AND (SELECT count(*) FROM holds h
           WHERE h.user_id = p_user AND h.status = 'active' AND h.expires_at > now()) < p_max_active
      AND n.sold + n.held + 1 > LEAST(n.capacity, r.quantity)
      AND n.sold + n.held + 1 - (
        SELECT count(*)::int FROM holds h
        WHERE h.room_id = p_room AND h.status = 'active' AND h.expires_at <= now()
          AND h.date_from <= n.night AND h.date_to > n.night
      ) > LEAST(n.capacity, r.quantity);
    IF v_full IS NOT NULL THEN
      RETURN QUERY SELECT 'sold_out'::text, NULL::jsonb, v_full;
      RETURN;
    END IF;
  END IF;

  IF p_key IS NOT NULL THEN
    SELECT * INTO v_claim FROM claim_idempotency_key(p_user, p_key, p_hash, p_key_ttl);
    IF NOT v_claim.claimed THEN
      RETURN QUERY SELECT CASE WHEN v_claim.same_request THEN 'replay' ELSE 'key_reused' END,
        v_claim.stored, NULL::date[];
      RETURN;
    END IF;
  END IF;

  -- as 0008: anything that may be taken is judged under the room's share lock and the user's advisory lock
  SELECT r.price INTO v_price FROM rooms r WHERE r.id = p_room FOR SHARE;
  IF NOT FOUND THEN
    v_outcome := 'no_room';
  ELSIF p_from >= p_to THEN
    v_outcome := 'stay_invalid';
  ELSIF p_from < p_today THEN
    v_outcome := 'stay_in_past';
  ELSE
    -- the user's holds one at a time, so the cap is exact under concurrency
    PERFORM pg_advisory_xact_lock(hashtext('holds_per_user'), p_user);
    SELECT count(*) INTO v_active FROM holds h
    WHERE h.user_id = p_user AND h.status = 'active' AND h.expires_at > now();
    IF v_active >= p_max_active THEN
      v_outcome := 'too_many';
    ELSE
      v_full := take_nights(p_room, p_from, p_to, 1);
      v_total := v_price::bigint * (p_to - p_from);
      IF cardinality(v_full) > 0 THEN
        v_outcome := 'sold_out';
      ELSIF v_total NOT BETWEEN -2147483648 AND 2147483647 THEN
        v_outcome := 'total_too_large';
      ELSE
        -- its insert trigger takes the nights locked above (held + 1)
        INSERT INTO holds AS h (user_id, room_id, date_from, date_to, price, expires_at)
        VALUES (p_user, p_room, p_from, p_to, v_total, now() + make_interval(secs => p_ttl_seconds))
        RETURNING hold_json(h) INTO v_answer;
        IF p_key IS NOT NULL THEN
          UPDATE idempotency_keys k SET response = v_answer WHERE k.user_id = p_user AND k.key = p_key;
        END IF;
        RETURN QUERY SELECT 'held'::text, v_answer, NULL::date[];
        RETURN;
      END IF;
    END IF;
  END IF;
  -- refused: only successful outcomes are remembered, so the claim goes (as a rollback would take it)
  IF p_key IS NOT NULL THEN
    DELETE FROM idempotency_keys k WHERE k.user_id = p_user AND k.key = p_key;
  END IF;
  RETURN QUERY SELECT v_outcome, NULL::jsonb, v_full;
END $$;

COMMENT ON FUNCTION hold_place(integer, integer, date, date, date, integer, integer, varchar, text, interval) IS
'POST /holds in one statement (docs/data.md BR-13), judged as book_stay judges a booking. Without a key, a stay '
'sold out is answered first, lock-free and writing nothing, on one snapshot: the room found, valid dates, the '
'caller under p_max_active active holds, a night full even with its expired holds counted free -> sold_out '
'(full_nights). Otherwise: claims the Idempotency-Key -> replay | key_reused; share-locks the room -> no_room; '
'the dates against p_today -> stay_invalid | stay_in_past; the user''s active holds (advisory lock per user) -> '
'too_many; take_nights -> sold_out (full_nights); price x nights above integer -> total_too_large; inserts the '
'hold (expires in p_ttl_seconds) -> held (answer: the hold). A refusal leaves no key behind.';
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

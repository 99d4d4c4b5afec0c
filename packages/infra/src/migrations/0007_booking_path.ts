/**
 * D2, one booking write path: the whole of `POST /bookings` — with or without an `Idempotency-Key` — is one
 * call of `book_stay`, one round trip and one statement, atomic on its own (docs/data.md BR-7).
 *
 * - `take_nights(room, from, to, units)` is the one capacity check of the inventory: it locks the nights of a
 *   stay in night order and names those without `units` free (docs/data.md BR-5). Whatever takes units of a
 *   room (a booking, a stay moved to other dates, anything that later holds units) calls it, so the rule of
 *   what a free unit is lives here only.
 * - `book_stay(...)` claims the key, share-locks the room, judges the dates, calls `take_nights`, computes the
 *   price, inserts the booking and records the key's answer: the one place a booking is written.
 * - `claim_idempotency_key(...)` claims a key or finds its earlier request (docs/data.md §1.13), for every
 *   command that honours an `Idempotency-Key`.
 * - `booking_json(b)` is a booking as the API shows it, and `api_timestamp(t)` a timestamp as docs/api.md §1.2
 *   renders it (UTC, `Z`, microseconds when non-zero), for the stored answers and the repository's reads.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE FUNCTION api_timestamp(t timestamp with time zone) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT regexp_replace(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '\\.000000$', '') || 'Z'
$$;

CREATE FUNCTION take_nights(
  p_room integer, p_from date, p_to date, p_units integer DEFAULT 1,
  p_keep_from date DEFAULT NULL, p_keep_to date DEFAULT NULL
) RETURNS date[] LANGUAGE plpgsql AS $$
DECLARE
  v_quantity integer;
  v_full date[];
BEGIN
  -- the caller holds the room's row share-locked, so its quantity cannot move under this check
  SELECT r.quantity INTO v_quantity FROM rooms r WHERE r.id = p_room;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF p_keep_from IS NULL THEN
    SELECT array_agg(n.night ORDER BY n.night) FILTER (WHERE n.sold + p_units > LEAST(n.capacity, v_quantity))
    INTO v_full
    FROM (
      SELECT rn.night, rn.sold, rn.capacity FROM room_nights rn
      WHERE rn.room_id = p_room AND rn.night >= p_from AND rn.night < p_to
      ORDER BY rn.night
      FOR UPDATE
    ) n;
  ELSE
    -- a stay moved: its current nights are locked with the new ones, in one night order, and not judged
    -- (they hold its units already)
    SELECT array_agg(n.night ORDER BY n.night) FILTER (
      WHERE n.night >= p_from AND n.night < p_to
        AND (n.night < p_keep_from OR n.night >= p_keep_to)
        AND n.sold + p_units > LEAST(n.capacity, v_quantity))
    INTO v_full
    FROM (
      SELECT rn.night, rn.sold, rn.capacity FROM room_nights rn
      WHERE rn.room_id = p_room
        AND ((rn.night >= p_from AND rn.night < p_to) OR (rn.night >= p_keep_from AND rn.night < p_keep_to))
      ORDER BY rn.night
      FOR UPDATE
    ) n;
  END IF;
  IF p_units > v_quantity THEN
    -- a night without a row has nothing taken and the room's quantity as capacity: not enough either
    SELECT array_agg(d::date ORDER BY d) INTO v_full
    FROM generate_series(p_from, p_to - 1, interval '1 day') AS d
    WHERE p_keep_from IS NULL OR d < p_keep_from OR d >= p_keep_to;
  END IF;
  RETURN COALESCE(v_full, '{}');
END $$;

COMMENT ON FUNCTION take_nights(integer, date, date, integer, date, date) IS
'The one capacity check of the inventory (docs/data.md BR-5): locks the nights [p_from, p_to) of room p_room '
'that have a room_nights row, in night order (with those of [p_keep_from, p_keep_to), the stay being moved, '
'in the same order), and returns the nights of [p_from, p_to) outside the kept stay that do not have p_units '
'free: sold + p_units > LEAST(capacity, the room''s quantity). A night without a row is free up to the '
'quantity. Empty array: every night has room; NULL: no such room. The caller holds the room FOR SHARE and '
'then writes what takes the units in the same transaction; room_nights_sold_check stays the last word '
'(a night created by a concurrent writer after this look is refused there). Anything that takes units of a '
'room calls this function, so counting other kinds of taken units (held ones) is a change here only.';

CREATE FUNCTION booking_json(b bookings) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT jsonb_build_object('id', b.id, 'room_id', b.room_id, 'user_id', b.user_id, 'date_from', b.date_from,
    'date_to', b.date_to, 'price', b.price, 'created_at', api_timestamp(b.created_at))
$$;

CREATE FUNCTION claim_idempotency_key(
  p_user integer, p_key varchar, p_hash text, p_ttl interval,
  OUT claimed boolean, OUT same_request boolean, OUT stored jsonb, OUT stored_booking_id integer
) LANGUAGE plpgsql AS $$
BEGIN
  LOOP
    -- uncommitted until the caller's statement commits: a concurrent duplicate waits here, then finds the outcome
    INSERT INTO idempotency_keys AS k (user_id, key, request_hash) VALUES (p_user, p_key, p_hash)
    ON CONFLICT (user_id, key) DO UPDATE
      SET request_hash = EXCLUDED.request_hash, booking_id = NULL, response = NULL, created_at = now()
      WHERE k.created_at < now() - p_ttl;
    IF FOUND THEN
      claimed := true;
      RETURN;
    END IF;
    SELECT false, k.request_hash = p_hash, k.response, k.booking_id
    INTO claimed, same_request, stored, stored_booking_id
    FROM idempotency_keys k WHERE k.user_id = p_user AND k.key = p_key;
    IF FOUND THEN
      RETURN;
    END IF;
    -- purged in between: claim it again
  END LOOP;
END $$;

COMMENT ON FUNCTION claim_idempotency_key(integer, varchar, text, interval) IS
'Claims (p_user, p_key) for a request whose hash is p_hash (a key older than p_ttl counts as unused): claimed, '
'or the key''s earlier request — same_request, its stored answer and booking id. The caller records its answer '
'on the row when it succeeds and deletes the row when it refuses, so only successful outcomes are remembered.';

CREATE FUNCTION book_stay(
  p_room integer, p_user integer, p_from date, p_to date, p_today date,
  p_key varchar DEFAULT NULL, p_hash text DEFAULT NULL, p_key_ttl interval DEFAULT '24 hours'
) RETURNS TABLE (outcome text, answer jsonb, kept_booking_id integer, full_nights date[])
LANGUAGE plpgsql AS $$
DECLARE
  v_price integer;
  v_total bigint;
  v_full date[];
  v_claim record;
  v_id integer;
  v_answer jsonb;
  v_outcome text;
BEGIN
  IF p_key IS NOT NULL THEN
    SELECT * INTO v_claim FROM claim_idempotency_key(p_user, p_key, p_hash, p_key_ttl);
    IF NOT v_claim.claimed THEN
      RETURN QUERY SELECT CASE WHEN v_claim.same_request THEN 'replay' ELSE 'key_reused' END,
        v_claim.stored, v_claim.stored_booking_id, NULL::date[];
      RETURN;
    END IF;
  END IF;

  SELECT r.price INTO v_price FROM rooms r WHERE r.id = p_room FOR SHARE;
  IF NOT FOUND THEN
    v_outcome := 'no_room';
  ELSIF p_from >= p_to THEN
    v_outcome := 'stay_invalid';
  ELSIF p_from < p_today THEN
    v_outcome := 'stay_in_past';
  ELSE
    v_full := take_nights(p_room, p_from, p_to, 1);
    v_total := v_price::bigint * (p_to - p_from);
    IF cardinality(v_full) > 0 THEN
      v_outcome := 'sold_out';
    ELSIF v_total NOT BETWEEN -2147483648 AND 2147483647 THEN
      v_outcome := 'total_too_large';
    ELSE
      -- the one place a booking is written; its insert trigger takes the nights locked above
      INSERT INTO bookings AS b (room_id, user_id, date_from, date_to, price)
      VALUES (p_room, p_user, p_from, p_to, v_total)
      RETURNING b.id, jsonb_build_object('status', 'OK', 'id', b.id, 'booking', booking_json(b))
      INTO v_id, v_answer;
      IF p_key IS NOT NULL THEN
        UPDATE idempotency_keys k SET booking_id = v_id, response = v_answer
        WHERE k.user_id = p_user AND k.key = p_key;
      END IF;
      RETURN QUERY SELECT 'booked'::text, v_answer, v_id, NULL::date[];
      RETURN;
    END IF;
  END IF;
  -- refused: only successful outcomes are remembered, so the claim goes (as a rollback would take it)
  IF p_key IS NOT NULL THEN
    DELETE FROM idempotency_keys k WHERE k.user_id = p_user AND k.key = p_key;
  END IF;
  RETURN QUERY SELECT v_outcome, NULL::jsonb, NULL::integer, v_full;
END $$;

COMMENT ON FUNCTION book_stay(integer, integer, date, date, date, varchar, text, interval) IS
'POST /bookings in one statement (docs/decisions.md D2): claims the Idempotency-Key (p_key, p_hash; a key '
'older than p_key_ttl counts as unused) -> replay | key_reused; share-locks the room -> no_room; judges the '
'dates against p_today -> stay_invalid | stay_in_past; take_nights -> sold_out (full_nights); price x nights '
'above integer -> total_too_large; inserts the booking and records the key''s answer -> booked (answer: '
'{"status","id","booking"}). A refusal leaves no key behind.';
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

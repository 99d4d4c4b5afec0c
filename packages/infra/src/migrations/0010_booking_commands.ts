/**
 * A booking's lifecycle as explicit commands (docs/data.md BR-8, BR-14): bookings carry `status`
 * (`confirmed`, `cancelled`); a cancelled booking is kept, and only confirmed ones hold nights.
 *
 * - `bookings.status` (every existing booking is confirmed) and the inventory's triggers taught it: an insert
 *   takes nights only for a confirmed booking; an update releases the old row's nights if it was confirmed and
 *   takes the new row's if it is (a cancellation releases, a change of dates moves them); a delete releases a
 *   confirmed booking's nights.
 * - `cancel_booking(...)` and `change_booking_dates(...)`: each command in one statement, with the
 *   `Idempotency-Key` claimed and answered as `book_stay` does (`claim_idempotency_key`); a change of dates
 *   checks the new nights with `take_nights`, its current nights kept out of the check and locked with the new
 *   ones in one night order, then moves them in the same statement.
 * - Their outbox events (`booking.cancelled`, `booking.dates_changed`, docs/decisions.md D16) are written by the
 *   repository's statement around each call, as `booking.created` is around `book_stay`.
 * - `booking_json(b)` gains `status`.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/** The nights of the confirmed stays in a transition table: `date_from + i` for i in 0 … nights − 1. */
const confirmedNightsOf = (relation: string) =>
  `${relation} b CROSS JOIN LATERAL generate_series(0, b.date_to - b.date_from - 1) AS i WHERE b.status = 'confirmed'`

const SQL = `
ALTER TABLE bookings
  ADD COLUMN status varchar(16) NOT NULL DEFAULT 'confirmed',
  ADD CONSTRAINT bookings_status_check CHECK (status IN ('confirmed', 'cancelled'));

DROP TRIGGER bookings_nights_insert ON bookings;
CREATE TRIGGER bookings_nights_insert AFTER INSERT ON bookings
  FOR EACH ROW WHEN (NEW.status = 'confirmed') EXECUTE FUNCTION bookings_take_nights_of_row();

CREATE OR REPLACE FUNCTION bookings_take_nights() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO room_nights (room_id, night, capacity)
  SELECT s.room_id, s.night, GREATEST(r.quantity, 0)
  FROM (SELECT DISTINCT b.room_id, b.date_from + i AS night FROM ${confirmedNightsOf("added")}) s
  JOIN rooms r ON r.id = s.room_id
  ORDER BY s.room_id, s.night
  ON CONFLICT (room_id, night) DO NOTHING;
  PERFORM 1
  FROM room_nights n
  JOIN (SELECT DISTINCT b.room_id, b.date_from + i AS night FROM ${confirmedNightsOf("added")}) s
    ON s.room_id = n.room_id AND s.night = n.night
  ORDER BY n.room_id, n.night
  FOR UPDATE OF n;
  UPDATE room_nights n SET sold = n.sold + s.stays
  FROM (
    SELECT b.room_id, b.date_from + i AS night, count(*)::int AS stays FROM ${confirmedNightsOf("added")} GROUP BY 1, 2
  ) s
  WHERE n.room_id = s.room_id AND n.night = s.night;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bookings_release_nights() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1
  FROM room_nights n
  JOIN (SELECT DISTINCT b.room_id, b.date_from + i AS night FROM ${confirmedNightsOf("gone")}) s
    ON s.room_id = n.room_id AND s.night = n.night
  ORDER BY n.room_id, n.night
  FOR UPDATE OF n;
  UPDATE room_nights n SET sold = n.sold - s.stays
  FROM (
    SELECT b.room_id, b.date_from + i AS night, count(*)::int AS stays FROM ${confirmedNightsOf("gone")} GROUP BY 1, 2
  ) s
  WHERE n.room_id = s.room_id AND n.night = s.night;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION booking_json(b bookings) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT jsonb_build_object('id', b.id, 'room_id', b.room_id, 'user_id', b.user_id, 'date_from', b.date_from,
    'date_to', b.date_to, 'price', b.price, 'created_at', api_timestamp(b.created_at), 'status', b.status)
$$;

CREATE FUNCTION cancel_booking(
  p_booking integer, p_user integer, p_admin boolean, p_cancelled_is_missing boolean DEFAULT false,
  p_key varchar DEFAULT NULL, p_hash text DEFAULT NULL, p_key_ttl interval DEFAULT '24 hours'
) RETURNS TABLE (outcome text, answer jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  v_claim record;
  v_booking bookings;
  v_answer jsonb;
  v_outcome text;
BEGIN
  IF p_key IS NOT NULL THEN
    SELECT * INTO v_claim FROM claim_idempotency_key(p_user, p_key, p_hash, p_key_ttl);
    IF NOT v_claim.claimed THEN
      RETURN QUERY SELECT CASE WHEN v_claim.same_request THEN 'replay' ELSE 'key_reused' END, v_claim.stored;
      RETURN;
    END IF;
  END IF;
  SELECT * INTO v_booking FROM bookings b WHERE b.id = p_booking FOR UPDATE;
  IF NOT FOUND OR (p_cancelled_is_missing AND v_booking.status = 'cancelled') THEN
    v_outcome := 'not_found';
  ELSIF v_booking.user_id <> p_user AND NOT p_admin THEN
    v_outcome := 'forbidden';
  ELSIF v_booking.status = 'cancelled' THEN
    v_outcome := 'already_cancelled';
  ELSE
    -- the update triggers release its nights
    UPDATE bookings b SET status = 'cancelled' WHERE b.id = p_booking RETURNING booking_json(b) INTO v_answer;
    IF p_key IS NOT NULL THEN
      UPDATE idempotency_keys k SET booking_id = p_booking, response = v_answer
      WHERE k.user_id = p_user AND k.key = p_key;
    END IF;
    RETURN QUERY SELECT 'cancelled'::text, v_answer;
    RETURN;
  END IF;
  IF p_key IS NOT NULL THEN
    DELETE FROM idempotency_keys k WHERE k.user_id = p_user AND k.key = p_key;
  END IF;
  RETURN QUERY SELECT v_outcome, NULL::jsonb;
END $$;

COMMENT ON FUNCTION cancel_booking(integer, integer, boolean, boolean, varchar, text, interval) IS
'Cancels a booking in one statement (docs/data.md BR-8): claims the Idempotency-Key -> replay | key_reused; '
'locks the booking -> not_found (also a cancelled one when p_cancelled_is_missing, as DELETE answers) | '
'forbidden (not the owner, not an admin) | already_cancelled; marks it cancelled (its nights released by the '
'triggers) and records the key''s answer -> cancelled (answer: the booking). A refusal leaves no key behind.';

CREATE FUNCTION change_booking_dates(
  p_booking integer, p_user integer, p_admin boolean, p_from date, p_to date, p_today date,
  p_key varchar DEFAULT NULL, p_hash text DEFAULT NULL, p_key_ttl interval DEFAULT '24 hours'
) RETURNS TABLE (outcome text, answer jsonb, full_nights date[])
LANGUAGE plpgsql AS $$
DECLARE
  v_claim record;
  v_booking bookings;
  v_price integer;
  v_quantity integer;
  v_total bigint;
  v_full date[];
  v_answer jsonb;
  v_outcome text;
BEGIN
  IF p_key IS NOT NULL THEN
    SELECT * INTO v_claim FROM claim_idempotency_key(p_user, p_key, p_hash, p_key_ttl);
    IF NOT v_claim.claimed THEN
      RETURN QUERY SELECT CASE WHEN v_claim.same_request THEN 'replay' ELSE 'key_reused' END, v_claim.stored,
        NULL::date[];
      RETURN;
    END IF;
  END IF;
  SELECT * INTO v_booking FROM bookings b WHERE b.id = p_booking FOR UPDATE;
  IF NOT FOUND THEN
    v_outcome := 'not_found';
  ELSIF v_booking.user_id <> p_user AND NOT p_admin THEN
    v_outcome := 'forbidden';
  ELSIF v_booking.status = 'cancelled' THEN
    v_outcome := 'already_cancelled';
  ELSIF p_from >= p_to THEN
    v_outcome := 'stay_invalid';
  ELSIF p_from < p_today THEN
    v_outcome := 'stay_in_past';
  ELSIF p_from = v_booking.date_from AND p_to = v_booking.date_to THEN
    -- already there: nothing moves, the price stays
    v_outcome := 'unchanged';
    v_answer := booking_json(v_booking);
  ELSE
    SELECT r.price, r.quantity INTO v_price, v_quantity FROM rooms r WHERE r.id = v_booking.room_id FOR SHARE;
    -- the new nights get their rows first, so take_nights locks and judges every one of them (a night created
    -- by a concurrent writer is waited for here, then judged with what it sold)
    INSERT INTO room_nights (room_id, night, capacity)
    SELECT v_booking.room_id, p_from + i, GREATEST(v_quantity, 0)
    FROM generate_series(0, p_to - p_from - 1) AS i
    ORDER BY i
    ON CONFLICT (room_id, night) DO NOTHING;
    v_full := take_nights(v_booking.room_id, p_from, p_to, 1, v_booking.date_from, v_booking.date_to);
    v_total := v_price::bigint * (p_to - p_from);
    IF cardinality(v_full) > 0 THEN
      v_outcome := 'sold_out';
    ELSIF v_total NOT BETWEEN -2147483648 AND 2147483647 THEN
      v_outcome := 'total_too_large';
    ELSE
      -- the update triggers release the old nights and take the new ones, all locked above
      UPDATE bookings b SET date_from = p_from, date_to = p_to, price = v_total
      WHERE b.id = p_booking RETURNING booking_json(b) INTO v_answer;
      v_outcome := 'changed';
    END IF;
  END IF;
  IF v_outcome IN ('changed', 'unchanged') THEN
    IF p_key IS NOT NULL THEN
      UPDATE idempotency_keys k SET booking_id = p_booking, response = v_answer
      WHERE k.user_id = p_user AND k.key = p_key;
    END IF;
    RETURN QUERY SELECT v_outcome, v_answer, NULL::date[];
    RETURN;
  END IF;
  IF p_key IS NOT NULL THEN
    DELETE FROM idempotency_keys k WHERE k.user_id = p_user AND k.key = p_key;
  END IF;
  RETURN QUERY SELECT v_outcome, NULL::jsonb, v_full;
END $$;

COMMENT ON FUNCTION change_booking_dates(integer, integer, boolean, date, date, date, varchar, text, interval) IS
'Moves a booking to [p_from, p_to) in one statement (docs/data.md BR-14): claims the Idempotency-Key -> replay | '
'key_reused; locks the booking -> not_found | forbidden | already_cancelled; judges the dates against p_today '
'-> stay_invalid | stay_in_past; share-locks the room, locks the new and the current nights in night order '
'(take_nights, the current ones not judged) -> sold_out (full_nights); the room''s price x the new nights above '
'integer -> total_too_large; moves the stay (the triggers release the old nights and take the new) and records '
'the key''s answer -> changed (answer: the booking; the same dates again: unchanged, the price stays). A '
'refusal leaves no key behind and changes nothing.';
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

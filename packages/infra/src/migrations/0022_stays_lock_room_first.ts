/**
 * A hold's confirm and a booking's change of dates lock the room (and the confirm the user) before the hold or
 * the booking (docs/data.md BR-10): the order in which a delete of the room, its hotel or the user locks them
 * (the room or the user, then its stays, `Catalogue/CascadeEvents.ts`). Before, `hold_confirm` locked the hold
 * and only then, by its booking's foreign keys, share-locked the room and the user, and `change_booking_dates`
 * locked the booking and then share-locked the room: against a delete taking them the other way round, a lock
 * cycle, which PostgreSQL broke by aborting one of the two (retried, but work thrown away each time).
 *
 * - `hold_confirm`: reads the hold's room and user without a lock, key-share-locks the room and the user (what
 *   the booking's foreign keys lock anyway), then locks the hold as before; a room or user deleted meanwhile
 *   takes the hold with it, and the confirm answers `not_found`. Same signature and outcomes.
 * - `change_booking_dates`: share-locks the booking's room (as it did before moving the stay) before locking
 *   the booking. Same signature and outcomes.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE OR REPLACE FUNCTION hold_confirm(p_hold integer, p_user integer, p_admin boolean)
RETURNS TABLE (outcome text, answer jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  v_hold holds%ROWTYPE;
  v_answer jsonb;
  v_room integer;
  v_holder integer;
BEGIN
  -- the room and the user before the hold: the order in which a delete of either locks them
  SELECT h.room_id, h.user_id INTO v_room, v_holder FROM holds h WHERE h.id = p_hold;
  IF FOUND THEN
    PERFORM 1 FROM rooms r WHERE r.id = v_room FOR KEY SHARE;
    PERFORM 1 FROM users u WHERE u.id = v_holder FOR KEY SHARE;
  END IF;
  SELECT * INTO v_hold FROM holds h WHERE h.id = p_hold FOR UPDATE;
  IF NOT FOUND OR (v_hold.user_id <> p_user AND NOT p_admin) THEN
    RETURN QUERY SELECT 'not_found'::text, NULL::jsonb;
    RETURN;
  END IF;
  IF v_hold.status = 'active' AND v_hold.expires_at <= now() THEN
    UPDATE holds h SET status = 'expired' WHERE h.id = p_hold;
    RETURN QUERY SELECT 'expired_now'::text, NULL::jsonb;
    RETURN;
  END IF;
  IF v_hold.status = 'confirmed' THEN
    RETURN QUERY SELECT 'confirmed'::text, (SELECT booking_json(b) FROM bookings b WHERE b.id = v_hold.booking_id);
    RETURN;
  END IF;
  IF v_hold.status <> 'active' THEN
    RETURN QUERY SELECT v_hold.status::text, NULL::jsonb;
    RETURN;
  END IF;
  INSERT INTO bookings AS b (room_id, user_id, date_from, date_to, price, hold_id)
  VALUES (v_hold.room_id, v_hold.user_id, v_hold.date_from, v_hold.date_to, v_hold.price, p_hold)
  RETURNING booking_json(b) INTO v_answer;
  RETURN QUERY SELECT 'confirmed_now'::text, v_answer;
END $$;

COMMENT ON FUNCTION hold_confirm(integer, integer, boolean) IS
'POST /holds/{id}/confirm in one statement (docs/data.md BR-13): key-share-locks the hold''s room and user, then '
'locks the hold (the order of a delete, BR-10) -> not_found (also another user''s hold for a non-admin) | '
'expired_now (past expires_at: recorded expired, its nights released) | expired | released | confirmed '
'(answered before: its booking, NULL once deleted); else inserts its booking with hold_id, whose trigger marks '
'the hold confirmed: the units stay counted in room_nights.held, no night is written -> confirmed_now (answer: '
'the booking).';

CREATE OR REPLACE FUNCTION change_booking_dates(
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
  v_room integer;
BEGIN
  IF p_key IS NOT NULL THEN
    SELECT * INTO v_claim FROM claim_idempotency_key(p_user, p_key, p_hash, p_key_ttl);
    IF NOT v_claim.claimed THEN
      RETURN QUERY SELECT CASE WHEN v_claim.same_request THEN 'replay' ELSE 'key_reused' END, v_claim.stored,
        NULL::date[];
      RETURN;
    END IF;
  END IF;
  -- the room before the booking: the order in which a delete of the room locks them
  SELECT b.room_id INTO v_room FROM bookings b WHERE b.id = p_booking;
  IF FOUND THEN
    PERFORM 1 FROM rooms r WHERE r.id = v_room FOR SHARE;
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

`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

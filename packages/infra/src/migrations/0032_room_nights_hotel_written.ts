/**
 * Every night the write path inserts carries its room's hotel, so the trigger `room_nights_hotel` (0028) fires
 * only for an operator's insert without it (docs/data.md §1.12; bench/README.md "Availability searches", fourth
 * pass). 0028 wrote the hotel in the bookings' row trigger and in `holds_take_nights`, but not in the two other
 * functions that insert nights: a `BEFORE INSERT` trigger fires per row before the conflict is seen, so each of
 * their nights — also those `ON CONFLICT DO NOTHING` then discards — called it (a 7-night move: 14 calls).
 *
 * - `change_booking_dates` (0022's body): reads the room's `hotel_id` with its price and quantity (the same
 *   `FOR SHARE` read) and writes it with the new nights' rows.
 * - `bookings_take_nights` (0012's body; the bookings' statement-level update trigger, which takes the nights of
 *   the rows confirmed after the update — a moved stay's new ones): writes `r.hotel_id` from the `rooms` it
 *   already joins.
 *
 * Neither had a `plan_cache_mode` (0027 set it on five other functions), so none is re-applied. Same signatures,
 * rows, locks, counts and answers. `ANALYZE room_nights` at the end: 0028 added a column and an index and ended
 * without one (a moment on an empty table; about a second on millions of nights).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/** The nights of the confirmed bookings in a transition table, each with the column it counts in (as 0012). */
const confirmedNightsOf = (relation: string) => `
  SELECT b.room_id, b.date_from + i AS night,
         count(*) FILTER (WHERE b.hold_id IS NULL)::int AS sold,
         count(*) FILTER (WHERE b.hold_id IS NOT NULL)::int AS held
  FROM ${relation} b CROSS JOIN LATERAL generate_series(0, b.date_to - b.date_from - 1) AS i
  WHERE b.status = 'confirmed'
  GROUP BY 1, 2`

const SQL = `
-- 0012's body, the hotel written with the night
CREATE OR REPLACE FUNCTION bookings_take_nights() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO room_nights (room_id, night, capacity, hotel_id)
  SELECT s.room_id, s.night, GREATEST(r.quantity, 0), r.hotel_id
  FROM (${confirmedNightsOf("added")}) s
  JOIN rooms r ON r.id = s.room_id
  ORDER BY s.room_id, s.night
  ON CONFLICT (room_id, night) DO NOTHING;
  PERFORM 1
  FROM room_nights n
  JOIN (${confirmedNightsOf("added")}) s ON s.room_id = n.room_id AND s.night = n.night
  ORDER BY n.room_id, n.night
  FOR UPDATE OF n;
  UPDATE room_nights n SET sold = n.sold + s.sold, held = n.held + s.held
  FROM (${confirmedNightsOf("added")}) s
  WHERE n.room_id = s.room_id AND n.night = s.night;
  RETURN NULL;
END $$;

-- 0022's body, the hotel read with the room and written with the night
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
  v_hotel integer;
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
    SELECT r.price, r.quantity, r.hotel_id INTO v_price, v_quantity, v_hotel
    FROM rooms r WHERE r.id = v_booking.room_id FOR SHARE;
    -- the new nights get their rows first, so take_nights locks and judges every one of them (a night created
    -- by a concurrent writer is waited for here, then judged with what it sold)
    INSERT INTO room_nights (room_id, night, capacity, hotel_id)
    SELECT v_booking.room_id, p_from + i, GREATEST(v_quantity, 0), v_hotel
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

ANALYZE room_nights;
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

/**
 * A stay refused as sold out queues on no lock (docs/data.md §1.12, BR-5, BR-13): `take_nights` (0008's, same
 * signature and answers) first looks at the stay's nights as committed, without locking them, and when a night
 * is full even with every expired hold on it counted as free, it names the full nights at once. Only a stay
 * that may fit goes on to the locking check of 0008 (the expired holds released, the nights locked in night
 * order and judged again), which alone lets anything be taken.
 *
 * Why: on a sought-after room type every write of its night rows is serial (the row locks are held until the
 * commit is flushed), and a refusal took those locks too — so in a sell-out, every refused booking or hold
 * queued behind the stays being sold, and flushed a commit of its own under the same locks. Now a refusal reads
 * and leaves. It is an answer as of the committed state its statement sees (read committed): a unit freed by a
 * release or a cancellation that commits after that look is not seen, exactly as if the refusal had come just
 * before it. It never takes anything, so it cannot oversell; `room_nights_sold_check` stays the last word. What a
 * refusal no longer does: record the expiry of the expired holds on its nights (they do not change its answer;
 * the sweep, a confirm or release of them, or the next stay that fits records it).
 *
 * A stay being moved (`p_keep_from` given, `change_booking_dates`) keeps the locking check only.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE OR REPLACE FUNCTION take_nights(
  p_room integer, p_from date, p_to date, p_units integer DEFAULT 1,
  p_keep_from date DEFAULT NULL, p_keep_to date DEFAULT NULL
) RETURNS date[] LANGUAGE plpgsql AS $$
DECLARE
  v_quantity integer;
  v_full date[];
  v_expired integer[];
  v_lo date;
  v_hi date;
BEGIN
  -- the caller holds the room's row share-locked, so its quantity cannot move under this check
  SELECT r.quantity INTO v_quantity FROM rooms r WHERE r.id = p_room;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  -- the look without locks: nights full with live units only (the active holds past expires_at subtracted)
  IF p_keep_from IS NULL AND p_units <= v_quantity THEN
    SELECT array_agg(n.night ORDER BY n.night) INTO v_full
    FROM room_nights n
    WHERE n.room_id = p_room AND n.night >= p_from AND n.night < p_to
      AND n.sold + n.held + p_units > LEAST(n.capacity, v_quantity)
      AND n.sold + n.held + p_units - (
        SELECT count(*)::int FROM holds h
        WHERE h.room_id = p_room AND h.status = 'active' AND h.expires_at <= now()
          AND h.date_from <= n.night AND h.date_to > n.night
      ) > LEAST(n.capacity, v_quantity);
    IF v_full IS NOT NULL THEN
      RETURN v_full;
    END IF;
  END IF;
  -- expired holds on these nights count as released: lock them (a confirm or the sweep holding one is waited
  -- for, then it is no longer active), lock all the nights involved in one night order, release them
  SELECT array_agg(h.id), min(h.date_from), max(h.date_to) INTO v_expired, v_lo, v_hi
  FROM (
    SELECT id, date_from, date_to FROM holds
    WHERE room_id = p_room AND status = 'active' AND expires_at <= now()
      AND date_from < p_to AND date_to > p_from
    ORDER BY id
    FOR UPDATE
  ) h;
  IF v_expired IS NOT NULL THEN
    PERFORM 1 FROM room_nights rn
    WHERE rn.room_id = p_room
      AND ((rn.night >= LEAST(v_lo, p_from) AND rn.night < GREATEST(v_hi, p_to))
        OR (rn.night >= p_keep_from AND rn.night < p_keep_to))
    ORDER BY rn.night
    FOR UPDATE;
    UPDATE holds SET status = 'expired' WHERE id = ANY(v_expired);
  END IF;
  IF p_keep_from IS NULL THEN
    SELECT array_agg(n.night ORDER BY n.night)
      FILTER (WHERE n.sold + n.held + p_units > LEAST(n.capacity, v_quantity))
    INTO v_full
    FROM (
      SELECT rn.night, rn.sold, rn.held, rn.capacity FROM room_nights rn
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
        AND n.sold + n.held + p_units > LEAST(n.capacity, v_quantity))
    INTO v_full
    FROM (
      SELECT rn.night, rn.sold, rn.held, rn.capacity FROM room_nights rn
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
'The one capacity check of the inventory (docs/data.md BR-5, BR-13). A new stay (no p_keep_from) is first '
'judged on the committed nights without locks: the nights of [p_from, p_to) that lack p_units even with the '
'expired holds on them counted free are returned at once (nothing locked, nothing recorded). Otherwise: releases '
'the expired holds on the nights of [p_from, p_to) of room p_room (status expired, under the night locks), locks '
'the nights that have a room_nights row in night order (with those of [p_keep_from, p_keep_to), the stay being '
'moved, in the same order), and returns the nights of [p_from, p_to) outside the kept stay that do not have '
'p_units free: sold + held + p_units > LEAST(capacity, the room''s quantity). A night without a row is free up '
'to the quantity. Empty array: every night has room; NULL: no such room. The caller holds the room FOR SHARE '
'and then writes what takes the units in the same transaction; room_nights_sold_check (sold + held <= '
'capacity) stays the last word.';
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

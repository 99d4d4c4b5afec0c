/**
 * A hold's confirm writes no night (docs/data.md §1.12, BR-13): the units a hold took stay counted in
 * `room_nights.held` once it becomes a booking, so a hold-then-confirm checkout writes the hot night rows once
 * (the hold) instead of twice (the hold, then held − 1 and sold + 1 at the confirm). Those row locks are held
 * until each commit is flushed, so on a sought-after room type every write of them is serial: this halves it.
 *
 * The bookkeeping rule, per night (what `inventoryProblems` checks, packages/server/src/Testing.ts):
 * - `sold` = the confirmed bookings made directly (`bookings.hold_id` NULL: `POST /bookings`, an operator's
 *   insert);
 * - `held` = the units taken through a hold: the active holds, and the confirmed bookings made from a hold
 *   (`bookings.hold_id` set), for as long as they are confirmed, on the nights they have now;
 * - `sold + held` is everything taken, and `room_nights_sold_check` (`sold + held <= capacity`) still covers
 *   it all; nothing that reads the inventory (`take_nights`, the searches) tells the two apart except to
 *   subtract the active holds past `expires_at` from `held`, which no booking is.
 *
 * Every row counts by what it is, so the triggers keep this whoever writes: a confirmed booking inserted,
 * deleted, cancelled or moved adds or removes its nights in `sold` or `held` by its own `hold_id` (a booking
 * made from a hold and later cancelled gives its units back from `held`; one moved to other dates moves them
 * in `held`); a hold counts while `active`, as before. One transition counts nothing, because it moves a
 * unit from one carrier to the other on the same nights: the **handover**, when a booking is inserted
 * confirmed with `hold_id` = an active hold of the same user, room and dates. Its insert trigger marks that
 * hold `confirmed` with `booking_id` = the booking, and the hold's trigger, seeing the leave from active to
 * confirmed made by that booking (which carries the units now), releases nothing; a booking naming a hold
 * that is not active for its user, room and dates is refused (`bookings_hold_id_check`), and one hold makes
 * at most one booking (`ux_bookings_hold_id`). A hold marked confirmed any other way (an operator's SQL) is a
 * hold leaving active: it releases its nights, as before.
 *
 * `hold_confirm` (same signature and outcomes) now only inserts the booking with `hold_id`: the hold's row
 * lock still decides between it and the sweep, a release or a capacity check expiring it (each of those locks
 * the hold before anything else, then the nights), and it takes no night lock at all. The `TRUNCATE`
 * triggers recount the column the other table still carries.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/** The nights of the confirmed bookings in a transition table, each with the column it counts in. */
const confirmedNightsOf = (relation: string) => `
  SELECT b.room_id, b.date_from + i AS night,
         count(*) FILTER (WHERE b.hold_id IS NULL)::int AS sold,
         count(*) FILTER (WHERE b.hold_id IS NOT NULL)::int AS held
  FROM ${relation} b CROSS JOIN LATERAL generate_series(0, b.date_to - b.date_from - 1) AS i
  WHERE b.status = 'confirmed'
  GROUP BY 1, 2`

const SQL = `
ALTER TABLE bookings ADD COLUMN hold_id integer;
CREATE UNIQUE INDEX ux_bookings_hold_id ON bookings (hold_id) WHERE hold_id IS NOT NULL;

-- a confirmed booking inserted: made directly, it takes its nights (sold + 1, one upsert, as 0004); made from a
-- hold, it takes over the hold's units on the same nights (the handover: nothing written to the nights)
CREATE OR REPLACE FUNCTION bookings_take_nights_of_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.hold_id IS NULL THEN
    INSERT INTO room_nights AS n (room_id, night, capacity, sold)
    SELECT NEW.room_id, NEW.date_from + i, GREATEST(r.quantity, 0), 1
    FROM generate_series(0, NEW.date_to - NEW.date_from - 1) AS i
    JOIN rooms r ON r.id = NEW.room_id
    ORDER BY i
    ON CONFLICT (room_id, night) DO UPDATE SET sold = n.sold + 1;
  ELSE
    UPDATE holds h SET status = 'confirmed', booking_id = NEW.id
    WHERE h.id = NEW.hold_id AND h.status = 'active' AND h.booking_id IS NULL AND h.user_id = NEW.user_id
      AND h.room_id = NEW.room_id AND h.date_from = NEW.date_from AND h.date_to = NEW.date_to;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'booking % cannot be made from hold %: not an active hold of its user, room and dates',
        NEW.id, NEW.hold_id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'bookings_hold_id_check', TABLE = 'bookings';
    END IF;
  END IF;
  RETURN NULL;
END $$;

-- deleted, cancelled, moved (statement-level, as 0003/0010): each confirmed row's nights in its own column
CREATE OR REPLACE FUNCTION bookings_take_nights() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO room_nights (room_id, night, capacity)
  SELECT s.room_id, s.night, GREATEST(r.quantity, 0)
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

CREATE OR REPLACE FUNCTION bookings_release_nights() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1
  FROM room_nights n
  JOIN (${confirmedNightsOf("gone")}) s ON s.room_id = n.room_id AND s.night = n.night
  ORDER BY n.room_id, n.night
  FOR UPDATE OF n;
  UPDATE room_nights n SET sold = n.sold - s.sold, held = n.held - s.held
  FROM (${confirmedNightsOf("gone")}) s
  WHERE n.room_id = s.room_id AND n.night = s.night;
  RETURN NULL;
END $$;

-- the hold's side of the handover: leaving active for confirmed, taken over by the confirmed booking it now
-- names (which carries its units on the same nights), it releases nothing; any other leave releases as 0008
CREATE OR REPLACE FUNCTION holds_count_nights() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.status = 'active' AND NEW.status = 'confirmed'
     AND OLD.booking_id IS NULL AND NEW.booking_id IS NOT NULL
     AND NEW.room_id = OLD.room_id AND NEW.date_from = OLD.date_from AND NEW.date_to = OLD.date_to
     AND EXISTS (
       SELECT 1 FROM bookings b
       WHERE b.id = NEW.booking_id AND b.hold_id = NEW.id AND b.status = 'confirmed'
         AND b.room_id = NEW.room_id AND b.date_from = NEW.date_from AND b.date_to = NEW.date_to
     ) THEN
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'active' THEN
    PERFORM holds_release_nights(OLD.room_id, OLD.date_from, OLD.date_to);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'active' THEN
    PERFORM holds_take_nights(NEW.room_id, NEW.date_from, NEW.date_to);
  END IF;
  RETURN NULL;
END $$;

-- TRUNCATE of one table: its column goes back to what the other table still carries
CREATE OR REPLACE FUNCTION bookings_release_all_nights() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE room_nights n SET sold = 0, held = (
    SELECT count(*) FROM holds h
    WHERE h.status = 'active' AND h.room_id = n.room_id AND n.night >= h.date_from AND n.night < h.date_to
  )
  WHERE n.sold <> 0 OR n.held <> 0;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION holds_release_all_nights() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE room_nights n SET held = (
    SELECT count(*) FROM bookings b
    WHERE b.status = 'confirmed' AND b.hold_id IS NOT NULL AND b.room_id = n.room_id
      AND n.night >= b.date_from AND n.night < b.date_to
  )
  WHERE n.held <> 0;
  RETURN NULL;
END $$;

-- POST /holds/{id}/confirm in one statement, as 0008's (same outcomes), but the booking is inserted with
-- hold_id: its insert trigger marks the hold confirmed and the units stay in held (no night written or locked)
CREATE OR REPLACE FUNCTION hold_confirm(p_hold integer, p_user integer, p_admin boolean)
RETURNS TABLE (outcome text, answer jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  v_hold holds%ROWTYPE;
  v_answer jsonb;
BEGIN
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
'POST /holds/{id}/confirm in one statement (docs/data.md BR-13): locks the hold -> not_found (also another '
'user''s hold for a non-admin) | expired_now (past expires_at: recorded expired, its nights released) | '
'expired | released | confirmed (answered before: its booking, NULL once deleted); else inserts its booking '
'with hold_id, whose trigger marks the hold confirmed: the units stay counted in room_nights.held, no night is '
'written -> confirmed_now (answer: the booking).';
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

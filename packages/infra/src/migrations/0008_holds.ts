/**
 * Holds (docs/data.md §1.13b, BR-13): units taken out of the inventory for a while, then confirmed into a
 * booking, released by their owner, or expired.
 *
 * - `holds` keeps every hold and its outcome (`status`: `active`, `confirmed`, `released`, `expired`);
 *   only an `active` one takes units. `booking_id` (the booking a confirm made) has no foreign key, so the
 *   bookings table can still be truncated; a confirm answered again reads it back, or finds it gone.
 * - `room_nights.held` counts, per room type and night, the active holds in the house, kept equal to the
 *   `holds` table by triggers whoever writes (the API, the sweep, a cascade from a deleted user or room,
 *   an operator's SQL), as `sold` is kept equal to the bookings (D2). The inventory's CHECK now covers
 *   `sold + held <= capacity` (same constraint name), so neither a booking nor a hold can take a unit
 *   another one has.
 * - `take_nights` (migration 0007), the one capacity check of bookings, moved stays and holds, is replaced:
 *   a unit is free when `sold + held` leaves one, and the expired holds on the stay's nights are released
 *   first, under the night locks (an expired hold never blocks anything, even before the sweep).
 * - `hold_place` is `POST /holds` in one statement (as `book_stay` is `POST /bookings`), `hold_confirm` turns a
 *   hold into a booking, `holds_sweep` expires what is past `expires_at` (`FOR UPDATE SKIP LOCKED`, so sweepers
 *   in several processes never wait for each other or for a confirm, and a hold being confirmed is either
 *   confirmed or expired, never both).
 *
 * Lock order everywhere: the room (share), the user's hold lock, the holds (by id), the nights (by night).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
ALTER TABLE room_nights ADD COLUMN held integer NOT NULL DEFAULT 0;
ALTER TABLE room_nights DROP CONSTRAINT room_nights_sold_check;
ALTER TABLE room_nights ADD CONSTRAINT room_nights_sold_check
  CHECK (sold >= 0 AND held >= 0 AND sold + held <= capacity);

CREATE TABLE holds (
  id serial NOT NULL,
  user_id integer NOT NULL,
  room_id integer NOT NULL,
  date_from date NOT NULL,
  date_to date NOT NULL,
  price integer NOT NULL,
  status varchar(16) NOT NULL DEFAULT 'active',
  expires_at timestamp with time zone NOT NULL,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  booking_id integer,
  CONSTRAINT holds_pkey PRIMARY KEY (id),
  CONSTRAINT holds_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT holds_room_id_fkey FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE,
  CONSTRAINT holds_status_check CHECK (status IN ('active', 'confirmed', 'released', 'expired')),
  CONSTRAINT holds_dates_check CHECK (date_from < date_to)
);
-- the few active holds: by room (the capacity check, the searches), by expiry (the sweep), by user (the cap)
CREATE INDEX ix_holds_active_room ON holds (room_id, date_from) WHERE status = 'active';
CREATE INDEX ix_holds_active_expires_at ON holds (expires_at) WHERE status = 'active';
CREATE INDEX ix_holds_active_user ON holds (user_id) WHERE status = 'active';
CREATE INDEX ix_holds_user_id ON holds (user_id);

-- an active hold takes one unit on each of its nights (missing nights are created, as for bookings)
CREATE FUNCTION holds_take_nights(p_room integer, p_from date, p_to date) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO room_nights AS n (room_id, night, capacity, held)
  SELECT p_room, p_from + i, GREATEST(r.quantity, 0), 1
  FROM generate_series(0, p_to - p_from - 1) AS i
  JOIN rooms r ON r.id = p_room
  ORDER BY i
  ON CONFLICT (room_id, night) DO UPDATE SET held = n.held + 1;
END $$;

CREATE FUNCTION holds_release_nights(p_room integer, p_from date, p_to date) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM room_nights
  WHERE room_id = p_room AND night >= p_from AND night < p_to
  ORDER BY night
  FOR UPDATE;
  UPDATE room_nights SET held = held - 1 WHERE room_id = p_room AND night >= p_from AND night < p_to;
END $$;

CREATE FUNCTION holds_count_nights() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'active' THEN
    PERFORM holds_release_nights(OLD.room_id, OLD.date_from, OLD.date_to);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'active' THEN
    PERFORM holds_take_nights(NEW.room_id, NEW.date_from, NEW.date_to);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION holds_release_all_nights() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE room_nights SET held = 0 WHERE held <> 0;
  RETURN NULL;
END $$;

CREATE TRIGGER holds_nights_insert AFTER INSERT ON holds
  FOR EACH ROW WHEN (NEW.status = 'active') EXECUTE FUNCTION holds_count_nights();
CREATE TRIGGER holds_nights_update AFTER UPDATE ON holds
  FOR EACH ROW WHEN (
    (OLD.status = 'active' OR NEW.status = 'active') AND (
      OLD.status IS DISTINCT FROM NEW.status OR OLD.room_id <> NEW.room_id
      OR OLD.date_from <> NEW.date_from OR OLD.date_to <> NEW.date_to
    )
  ) EXECUTE FUNCTION holds_count_nights();
CREATE TRIGGER holds_nights_delete AFTER DELETE ON holds
  FOR EACH ROW WHEN (OLD.status = 'active') EXECUTE FUNCTION holds_count_nights();
CREATE TRIGGER holds_nights_truncate AFTER TRUNCATE ON holds
  FOR EACH STATEMENT EXECUTE FUNCTION holds_release_all_nights();

-- The one capacity check (0007's, same signature and answer), now counting held units: see the header.
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
'The one capacity check of the inventory (docs/data.md BR-5, BR-13): releases the expired holds on the nights '
'[p_from, p_to) of room p_room (status expired, under the night locks), locks the nights that have a room_nights '
'row in night order (with those of [p_keep_from, p_keep_to), the stay being moved, in the same order), and '
'returns the nights of [p_from, p_to) outside the kept stay that do not have p_units free: sold + held + p_units '
'> LEAST(capacity, the room''s quantity). A night without a row is free up to the quantity. Empty array: every '
'night has room; NULL: no such room. The caller holds the room FOR SHARE and then writes what takes the units '
'in the same transaction; room_nights_sold_check (sold + held <= capacity) stays the last word.';

-- A hold as the API shows it; an active hold past expires_at reads expired.
CREATE FUNCTION hold_json(h holds) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT jsonb_build_object('id', h.id, 'room_id', h.room_id, 'user_id', h.user_id, 'date_from', h.date_from,
    'date_to', h.date_to, 'price', h.price,
    'status', CASE WHEN h.status = 'active' AND h.expires_at <= now() THEN 'expired' ELSE h.status END,
    'expires_at', api_timestamp(h.expires_at), 'created_at', api_timestamp(h.created_at), 'booking_id', h.booking_id)
$$;

-- Expires up to p_batch holds past expires_at, skipping those another transaction has locked (a confirm,
-- a release, another sweeper): holds first, then all their nights in (room, night) order, then the update
-- (whose triggers find the nights locked already). Returns the ids expired.
CREATE FUNCTION holds_sweep(p_batch integer) RETURNS SETOF integer LANGUAGE plpgsql AS $$
DECLARE
  due integer[];
BEGIN
  SELECT array_agg(d.id) INTO due FROM (
    SELECT id FROM holds
    WHERE status = 'active' AND expires_at <= now()
    ORDER BY expires_at, id
    LIMIT p_batch
    FOR UPDATE SKIP LOCKED
  ) d;
  IF due IS NULL THEN
    RETURN;
  END IF;
  PERFORM 1
  FROM room_nights n
  JOIN holds h ON h.room_id = n.room_id AND n.night >= h.date_from AND n.night < h.date_to
  WHERE h.id = ANY(due)
  ORDER BY n.room_id, n.night
  FOR UPDATE OF n;
  RETURN QUERY UPDATE holds SET status = 'expired' WHERE id = ANY(due) RETURNING id;
END $$;

CREATE FUNCTION hold_place(
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
  IF p_key IS NOT NULL THEN
    SELECT * INTO v_claim FROM claim_idempotency_key(p_user, p_key, p_hash, p_key_ttl);
    IF NOT v_claim.claimed THEN
      RETURN QUERY SELECT CASE WHEN v_claim.same_request THEN 'replay' ELSE 'key_reused' END,
        v_claim.stored, NULL::date[];
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
'POST /holds in one statement (docs/data.md BR-13), judged as book_stay judges a booking: claims the '
'Idempotency-Key -> replay | key_reused; share-locks the room -> no_room; the dates against p_today -> '
'stay_invalid | stay_in_past; the user''s active holds (advisory lock per user) -> too_many; take_nights -> '
'sold_out (full_nights); price x nights above integer -> total_too_large; inserts the hold (expires in '
'p_ttl_seconds) -> held (answer: the hold). A refusal leaves no key behind.';

-- POST /holds/{id}/confirm in one statement: the hold's row lock decides between a confirm and the sweep
-- (which skips a locked hold; a confirm waits for a sweep that has it, then finds it expired). Confirming
-- moves the hold's units from held to sold without a new capacity check: the hold leaves active (held - 1
-- on its nights, locked in night order), then the booking is inserted (sold + 1). Outcomes: not_found (also
-- another user's hold for a non-admin), released, expired / expired_now (this confirm recorded the expiry),
-- confirmed (answered before: its booking, NULL once deleted) / confirmed_now; answer: the booking.
CREATE FUNCTION hold_confirm(p_hold integer, p_user integer, p_admin boolean)
RETURNS TABLE (outcome text, answer jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  v_hold holds%ROWTYPE;
  v_answer jsonb;
  v_id integer;
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
  UPDATE holds h SET status = 'confirmed' WHERE h.id = p_hold;
  INSERT INTO bookings AS b (room_id, user_id, date_from, date_to, price)
  VALUES (v_hold.room_id, v_hold.user_id, v_hold.date_from, v_hold.date_to, v_hold.price)
  RETURNING b.id, booking_json(b) INTO v_id, v_answer;
  UPDATE holds h SET booking_id = v_id WHERE h.id = p_hold;
  RETURN QUERY SELECT 'confirmed_now'::text, v_answer;
END $$;
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

/**
 * D2: bookings never overbook, enforced by the database.
 *
 * `room_nights` holds one row per room type and night that was ever booked: `sold` units out of `capacity`,
 * with a CHECK that sold never exceeds capacity. Triggers keep it equal to the bookings table whoever
 * writes (the API, a cascade from a deleted user or room, an operator's SQL):
 * - a booking inserted takes its nights (missing nights are created with the room's quantity as capacity),
 *   a booking deleted releases them, an update does both, a TRUNCATE empties them; nights are locked in
 *   (room, night) order, the order the booking service also uses;
 * - a room's `quantity` change moves the capacity of its nights from today (UTC) on, so lowering it below
 *   what is already sold on a future night violates the CHECK and is refused.
 *
 * `idempotency_keys` remembers the outcome of `POST /bookings` per user and `Idempotency-Key` for 24 h; the
 * key is written in the booking's own transaction, so a concurrent duplicate waits on it.
 *
 * An adopted database is back-filled from its bookings. Where the original overbooked (more bookings on a
 * night than the room's quantity), capacity is raised to what was sold so the migration keeps every
 * booking; those nights are logged, and the booking service still sells no unit above `quantity` there.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/** Nights of every stay in a relation of bookings: `date_from + i` for i in 0 … nights − 1. */
const nightsOf = (relation: string) =>
  `${relation} b CROSS JOIN LATERAL generate_series(0, b.date_to - b.date_from - 1) AS i`

const TABLES = `
CREATE TABLE room_nights (
  room_id integer NOT NULL,
  night date NOT NULL,
  capacity integer NOT NULL,
  sold integer NOT NULL DEFAULT 0,
  CONSTRAINT room_nights_pkey PRIMARY KEY (room_id, night),
  CONSTRAINT room_nights_room_id_fkey FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE,
  CONSTRAINT room_nights_sold_check CHECK (sold >= 0 AND sold <= capacity)
);

CREATE TABLE idempotency_keys (
  user_id integer NOT NULL,
  key varchar(255) NOT NULL,
  request_hash text NOT NULL,
  booking_id integer,
  response jsonb,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key),
  CONSTRAINT idempotency_keys_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX ix_idempotency_keys_created_at ON idempotency_keys (created_at);

-- no booking or quantity may change while the inventory is built from the bookings
LOCK TABLE rooms, bookings IN SHARE ROW EXCLUSIVE MODE;
`

const BACKFILL = `
INSERT INTO room_nights (room_id, night, capacity, sold)
SELECT s.room_id, s.night, GREATEST(r.quantity, s.sold, 0), s.sold
FROM (
  SELECT b.room_id, b.date_from + i AS night, count(*)::int AS sold
  FROM ${nightsOf("bookings")}
  GROUP BY 1, 2
) s
JOIN rooms r ON r.id = s.room_id
`

const TRIGGERS = `
CREATE FUNCTION bookings_take_nights() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO room_nights (room_id, night, capacity)
  SELECT s.room_id, s.night, GREATEST(r.quantity, 0)
  FROM (SELECT DISTINCT b.room_id, b.date_from + i AS night FROM ${nightsOf("added")}) s
  JOIN rooms r ON r.id = s.room_id
  ORDER BY s.room_id, s.night
  ON CONFLICT (room_id, night) DO NOTHING;
  PERFORM 1
  FROM room_nights n
  JOIN (SELECT DISTINCT b.room_id, b.date_from + i AS night FROM ${nightsOf("added")}) s
    ON s.room_id = n.room_id AND s.night = n.night
  ORDER BY n.room_id, n.night
  FOR UPDATE OF n;
  UPDATE room_nights n SET sold = n.sold + s.stays
  FROM (SELECT b.room_id, b.date_from + i AS night, count(*)::int AS stays FROM ${nightsOf("added")} GROUP BY 1, 2) s
  WHERE n.room_id = s.room_id AND n.night = s.night;
  RETURN NULL;
END $$;

CREATE FUNCTION bookings_release_nights() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1
  FROM room_nights n
  JOIN (SELECT DISTINCT b.room_id, b.date_from + i AS night FROM ${nightsOf("gone")}) s
    ON s.room_id = n.room_id AND s.night = n.night
  ORDER BY n.room_id, n.night
  FOR UPDATE OF n;
  UPDATE room_nights n SET sold = n.sold - s.stays
  FROM (SELECT b.room_id, b.date_from + i AS night, count(*)::int AS stays FROM ${nightsOf("gone")} GROUP BY 1, 2) s
  WHERE n.room_id = s.room_id AND n.night = s.night;
  RETURN NULL;
END $$;

CREATE FUNCTION bookings_release_all_nights() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE room_nights SET sold = 0 WHERE sold <> 0;
  RETURN NULL;
END $$;

-- statement-level with transition tables: a cascade deleting many bookings updates each night once
CREATE TRIGGER bookings_nights_insert AFTER INSERT ON bookings
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION bookings_take_nights();
CREATE TRIGGER bookings_nights_delete AFTER DELETE ON bookings
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION bookings_release_nights();
-- same event: triggers fire in name order, so the old nights are released before the new ones are taken
CREATE TRIGGER bookings_nights_update_1_release AFTER UPDATE ON bookings
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION bookings_release_nights();
CREATE TRIGGER bookings_nights_update_2_take AFTER UPDATE ON bookings
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION bookings_take_nights();
CREATE TRIGGER bookings_nights_truncate AFTER TRUNCATE ON bookings
  FOR EACH STATEMENT EXECUTE FUNCTION bookings_release_all_nights();

CREATE FUNCTION rooms_quantity_moves_capacity() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  today date := (now() AT TIME ZONE 'UTC')::date;
BEGIN
  PERFORM 1 FROM room_nights WHERE room_id = NEW.id AND night >= today ORDER BY night FOR UPDATE;
  UPDATE room_nights SET capacity = NEW.quantity WHERE room_id = NEW.id AND night >= today;
  RETURN NULL;
END $$;

CREATE TRIGGER rooms_quantity_moves_capacity AFTER UPDATE OF quantity ON rooms
  FOR EACH ROW WHEN (OLD.quantity IS DISTINCT FROM NEW.quantity) EXECUTE FUNCTION rooms_quantity_moves_capacity();
`

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(TABLES)
  yield* sql.unsafe(BACKFILL)
  const overbooked = yield* sql<{ room_id: number; night: string; sold: number; quantity: number }>`
    SELECT n.room_id, n.night, n.sold, r.quantity
    FROM room_nights n JOIN rooms r ON r.id = n.room_id
    WHERE n.sold > r.quantity
    ORDER BY n.room_id, n.night`
  if (overbooked.length > 0) {
    yield* Effect.logWarning(
      `room_nights: ${overbooked.length} night(s) were already overbooked by the original; their capacity ` +
        "is kept at what was sold, and no further unit is sold there until bookings fall below the quantity"
    ).pipe(Effect.annotateLogs("overbooked", overbooked.slice(0, 20)))
  }
  yield* sql.unsafe(TRIGGERS)
})

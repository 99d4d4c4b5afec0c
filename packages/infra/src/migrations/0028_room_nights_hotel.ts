/**
 * The inventory carries its room type's hotel, so the page-of-hotels search reads a hotel's nights in one index
 * range scan instead of one per room type (docs/data.md §1.12; bench/README.md "Availability searches", fourth
 * pass). Nothing else changes: the same rows, counts, constraints, locks and answers.
 *
 * - `room_nights.hotel_id`: the room's `hotels.id`, filled for every existing row, NOT NULL. The foreign key to
 *   `rooms` becomes `(room_id, hotel_id) → rooms (id, hotel_id)`, `ON DELETE CASCADE` as before and
 *   `ON UPDATE CASCADE`, so the database itself keeps it the room's hotel (a room moved to another hotel by an
 *   operator's SQL moves its nights); `rooms_id_hotel_id_key` is the unique key that foreign key needs. The
 *   check per inserted night is the same one index probe of `rooms` as before.
 * - `ix_room_nights_hotel_night (hotel_id, night)`: a hotel's nights of a stay, contiguous. Updates of `sold` and
 *   `held` change no indexed column, so they stay HOT as before; a night's first row adds one index entry.
 * - Who inserts nights: the two functions on the write path, `bookings_take_nights_of_row` (a booking made
 *   directly) and `holds_take_nights` (a hold), read the room already and write its `hotel_id` with it (the same
 *   bodies as migrations 0012 and 0008, and the same `plan_cache_mode` as 0027); any other insert (a moved
 *   stay's new nights, the statement-level triggers, an operator's SQL) leaves it NULL and the trigger
 *   `room_nights_hotel` fills it from `rooms`, fired only then (its `WHEN`).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
ALTER TABLE room_nights ADD COLUMN hotel_id integer;
UPDATE room_nights n SET hotel_id = r.hotel_id FROM rooms r WHERE r.id = n.room_id;
ALTER TABLE room_nights ALTER COLUMN hotel_id SET NOT NULL;

ALTER TABLE rooms ADD CONSTRAINT rooms_id_hotel_id_key UNIQUE (id, hotel_id);
ALTER TABLE room_nights DROP CONSTRAINT room_nights_room_id_fkey;
ALTER TABLE room_nights ADD CONSTRAINT room_nights_room_id_fkey FOREIGN KEY (room_id, hotel_id)
  REFERENCES rooms (id, hotel_id) ON UPDATE CASCADE ON DELETE CASCADE;

CREATE INDEX ix_room_nights_hotel_night ON room_nights (hotel_id, night);

-- a night inserted without its hotel gets the room's
CREATE FUNCTION room_nights_hotel() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT r.hotel_id INTO NEW.hotel_id FROM rooms r WHERE r.id = NEW.room_id;
  RETURN NEW;
END $$;
CREATE TRIGGER room_nights_hotel BEFORE INSERT ON room_nights
  FOR EACH ROW WHEN (NEW.hotel_id IS NULL) EXECUTE FUNCTION room_nights_hotel();

-- 0012's body, the hotel written with the night
CREATE OR REPLACE FUNCTION bookings_take_nights_of_row() RETURNS trigger LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  IF NEW.hold_id IS NULL THEN
    INSERT INTO room_nights AS n (room_id, night, capacity, sold, hotel_id)
    SELECT NEW.room_id, NEW.date_from + i, GREATEST(r.quantity, 0), 1, r.hotel_id
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

-- 0008's body, the hotel written with the night
CREATE OR REPLACE FUNCTION holds_take_nights(p_room integer, p_from date, p_to date) RETURNS void LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  INSERT INTO room_nights AS n (room_id, night, capacity, held, hotel_id)
  SELECT p_room, p_from + i, GREATEST(r.quantity, 0), 1, r.hotel_id
  FROM generate_series(0, p_to - p_from - 1) AS i
  JOIN rooms r ON r.id = p_room
  ORDER BY i
  ON CONFLICT (room_id, night) DO UPDATE SET held = n.held + 1;
END $$;
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

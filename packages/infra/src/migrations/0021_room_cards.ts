/**
 * The availability searches' room cards (docs/data.md §1.13d): per room type, the JSON
 * of its catalogue fields as the searches answer them, written when the catalogue changes instead of on every
 * search. `head` is `{"id":…,"hotel_id":…,"title":…,"description":…,"price":…,"quantity":` (the `AvailableRoom`
 * fields before the free units, by `row_to_json`, as the searches wrote them), `facilities` the room's
 * facilities as a JSON array by id (`[]` when none). A search appends the free units it counts and the array:
 * `head || free || ',"facilities":' || facilities || '}'`.
 *
 * Why: building the facilities' JSON was most of PostgreSQL's work per search (a page of 10 hotels carries
 * about 100 room types and 400 facility links: a join, a sort and a `row_to_json` per room type), and both
 * searches were bound by PostgreSQL's CPU (`npm run bench`, issue 18; bench/README.md "Availability searches").
 *
 * Kept equal to the tables by triggers, in the transaction that writes them, whoever writes:
 * - `rooms`: an insert writes the room's card, an update of `id`, `hotel_id`, `title`, `description` or `price`
 *   its `head`; a delete takes the card with it (`ON DELETE CASCADE`).
 * - `rooms_facilities`: after each statement that inserts, updates or deletes links (a cascaded delete
 *   included), the `facilities` of the rooms it touched are written again (`room_cards_refresh`); a `TRUNCATE`
 *   leaves every room without facilities.
 * - `facilities`: an update of a facility's `id` or `title` rewrites the cards of the rooms linked to it; a
 *   deleted facility's links go by cascade (above).
 * `room_cards_refresh` locks the cards in room order first and reads the links in its next statement, whose
 *   snapshot is taken once the locks are held: two transactions changing one room's links concurrently both
 *   count, the second after the first committed (no lost update under read committed; a repeatable-read one
 *   gets a serialization error instead). Catalogue writes are rare (admin requests); a search never waits.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE TABLE room_cards (
  room_id integer NOT NULL,
  head text NOT NULL,
  facilities text NOT NULL,
  CONSTRAINT room_cards_pkey PRIMARY KEY (room_id),
  CONSTRAINT room_cards_room_id_fkey FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE ON UPDATE CASCADE
);

-- the facilities of a room as the searches answer them: a JSON array of {"id","title"} by id, [] when none
CREATE FUNCTION room_card_facilities(p_room integer) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT COALESCE('[' || string_agg(row_to_json(f)::text, ',' ORDER BY f.id) || ']', '[]')
  FROM (SELECT f.id, f.title FROM rooms_facilities rf JOIN facilities f ON f.id = rf.facility_id
        WHERE rf.room_id = p_room) f
$$;

-- the fields before the free units, by row_to_json (its escapes and field order), without the closing brace
CREATE FUNCTION room_card_head(p_id integer, p_hotel_id integer, p_title varchar, p_description text,
  p_price integer) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT left(row_to_json(x)::text, -1) || ',"quantity":'
  FROM (SELECT p_id AS id, p_hotel_id AS hotel_id, p_title AS title, p_description AS description,
               p_price AS price) x
$$;

INSERT INTO room_cards (room_id, head, facilities)
SELECT r.id, room_card_head(r.id, r.hotel_id, r.title, r.description, r.price), room_card_facilities(r.id)
FROM rooms r;

CREATE FUNCTION room_cards_refresh(p_rooms integer[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM room_cards WHERE room_id = ANY (p_rooms) ORDER BY room_id FOR UPDATE;
  -- a statement of its own: its snapshot sees every change to these rooms' links committed before the locks
  UPDATE room_cards c SET facilities = room_card_facilities(c.room_id) WHERE c.room_id = ANY (p_rooms);
END $$;

CREATE FUNCTION rooms_card() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO room_cards AS c (room_id, head, facilities)
  VALUES (NEW.id, room_card_head(NEW.id, NEW.hotel_id, NEW.title, NEW.description, NEW.price),
          room_card_facilities(NEW.id))
  ON CONFLICT (room_id) DO UPDATE SET head = EXCLUDED.head;
  RETURN NULL;
END $$;
CREATE TRIGGER rooms_card AFTER INSERT OR UPDATE OF id, hotel_id, title, description, price ON rooms
  FOR EACH ROW EXECUTE FUNCTION rooms_card();

CREATE FUNCTION rooms_facilities_cards_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM room_cards_refresh(ARRAY(SELECT DISTINCT room_id FROM new_links));
  RETURN NULL;
END $$;
CREATE FUNCTION rooms_facilities_cards_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM room_cards_refresh(ARRAY(SELECT DISTINCT room_id FROM old_links));
  RETURN NULL;
END $$;
CREATE FUNCTION rooms_facilities_cards_both() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM room_cards_refresh(ARRAY(SELECT room_id FROM old_links UNION SELECT room_id FROM new_links));
  RETURN NULL;
END $$;
CREATE FUNCTION rooms_facilities_cards_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE room_cards SET facilities = '[]' WHERE facilities <> '[]';
  RETURN NULL;
END $$;
CREATE TRIGGER rooms_facilities_cards_insert AFTER INSERT ON rooms_facilities
  REFERENCING NEW TABLE AS new_links FOR EACH STATEMENT EXECUTE FUNCTION rooms_facilities_cards_new();
CREATE TRIGGER rooms_facilities_cards_delete AFTER DELETE ON rooms_facilities
  REFERENCING OLD TABLE AS old_links FOR EACH STATEMENT EXECUTE FUNCTION rooms_facilities_cards_old();
CREATE TRIGGER rooms_facilities_cards_update AFTER UPDATE ON rooms_facilities
  REFERENCING OLD TABLE AS old_links NEW TABLE AS new_links
  FOR EACH STATEMENT EXECUTE FUNCTION rooms_facilities_cards_both();
CREATE TRIGGER rooms_facilities_cards_truncate AFTER TRUNCATE ON rooms_facilities
  FOR EACH STATEMENT EXECUTE FUNCTION rooms_facilities_cards_truncate();

CREATE FUNCTION facilities_cards() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM room_cards_refresh(ARRAY(SELECT DISTINCT rf.room_id FROM rooms_facilities rf
                                   WHERE rf.facility_id IN (SELECT id FROM new_facilities)));
  RETURN NULL;
END $$;
CREATE TRIGGER facilities_cards AFTER UPDATE ON facilities
  REFERENCING NEW TABLE AS new_facilities FOR EACH STATEMENT EXECUTE FUNCTION facilities_cards();
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

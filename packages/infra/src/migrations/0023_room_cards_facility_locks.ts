/**
 * Room cards (docs/data.md §1.13d) after two races migration 0021 left open.
 *
 * 1. A facility renamed while a room was linked to it: the rename's trigger did not see the uncommitted link, and
 *    the link's refresh read the title before the rename committed (their locks did not conflict), so the card
 *    kept the old title for good. Now the triggers of `rooms_facilities` share-lock, in id order, the facilities
 *    of the links they wrote (inserted, or updated to) before `room_cards_refresh` locks the cards: `FOR SHARE`
 *    waits for an uncommitted rename's row lock, and the refresh's reading statement, which comes after, sees the
 *    committed title (read committed; a repeatable-read writer gets a serialization error instead). Only the
 *    new links' facilities: a link committed before the rename is seen by the rename's own refresh, which locks
 *    the card; and a rename locks no other facility, so two renames of facilities of one room cannot deadlock.
 *    Deletes lock no facility (there is nothing of a removed link to read).
 * 2. 0021 wrote the cards before the triggers existed and locked nothing: a link, rename or room committed in
 *    between left a stale card, or a room without one (which the searches' inner join drops). This migration
 *    locks the catalogue tables against writers (the searches still read) and writes every card again,
 *    repairing any card either race left stale.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
LOCK TABLE rooms, rooms_facilities, facilities IN SHARE ROW EXCLUSIVE MODE;

CREATE OR REPLACE FUNCTION rooms_facilities_cards_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- waits for an uncommitted rename of a newly linked facility; the refresh's reading statement comes after
  PERFORM 1 FROM facilities f WHERE f.id IN (SELECT facility_id FROM new_links) ORDER BY f.id FOR SHARE;
  PERFORM room_cards_refresh(ARRAY(SELECT DISTINCT room_id FROM new_links));
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION rooms_facilities_cards_both() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM facilities f WHERE f.id IN (SELECT facility_id FROM new_links) ORDER BY f.id FOR SHARE;
  PERFORM room_cards_refresh(ARRAY(SELECT room_id FROM old_links UNION SELECT room_id FROM new_links));
  RETURN NULL;
END $$;

INSERT INTO room_cards AS c (room_id, head, facilities)
SELECT r.id, room_card_head(r.id, r.hotel_id, r.title, r.description, r.price), room_card_facilities(r.id)
FROM rooms r
ON CONFLICT (room_id) DO UPDATE SET head = EXCLUDED.head, facilities = EXCLUDED.facilities
  WHERE (c.head, c.facilities) IS DISTINCT FROM (EXCLUDED.head, EXCLUDED.facilities);
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

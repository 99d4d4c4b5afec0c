/**
 * The catalogue's version (docs/decisions.md D7): one row, `catalogue_version.version`, raised by one in the
 * same transaction as any write to a table the cached catalogue answers are read from — `countries`,
 * `cities`, `hotels`, `rooms`, `facilities`, `rooms_facilities` (the statements of `Catalogue/*Repo.ts`;
 * no answer the server caches shows images, bookings or the inventory). A cached answer stamped with the
 * version it was read under is served only while that is still the version PostgreSQL holds, so a hit is
 * exactly what the database would answer (`server/src/Catalogue/CatalogueCache.ts`).
 *
 * - The bump is a deferred constraint trigger: it runs at commit, once per transaction (the transaction-local
 *   setting `shum.catalogue_bumped` remembers it), after every other lock the transaction takes. The version
 *   row's lock is therefore the last one a catalogue write takes and is held only while it commits, so it
 *   cannot close a cycle of lock waits with the rows the write touches, and concurrent catalogue writes
 *   queue only for their commits.
 * - A rolled-back transaction never bumps (its trigger never ran, or its update rolled back with it); cascaded
 *   deletes (a hotel's rooms and their links) fire the triggers of the tables they touch; `TRUNCATE` bumps at
 *   once (it has no rows to defer for).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/** The tables the cached catalogue answers read (docs/decisions.md D7). */
export const CATALOGUE_TABLES = ["countries", "cities", "hotels", "rooms", "facilities", "rooms_facilities"] as const

const SQL = `
CREATE TABLE catalogue_version (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  version bigint NOT NULL
);
INSERT INTO catalogue_version (id, version) VALUES (true, 1);

CREATE FUNCTION catalogue_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('shum.catalogue_bumped', true) IS DISTINCT FROM txid_current()::text THEN
    UPDATE catalogue_version SET version = version + 1;
    PERFORM set_config('shum.catalogue_bumped', txid_current()::text, true);
  END IF;
  RETURN NULL;
END $$;

${CATALOGUE_TABLES.map(
  (table) => `
CREATE CONSTRAINT TRIGGER ${table}_catalogue_version AFTER INSERT OR UPDATE OR DELETE ON ${table}
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION catalogue_version_bump();
CREATE TRIGGER ${table}_catalogue_version_truncate AFTER TRUNCATE ON ${table}
  FOR EACH STATEMENT EXECUTE FUNCTION catalogue_version_bump();`
).join("\n")}
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

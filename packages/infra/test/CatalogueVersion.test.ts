/**
 * Migration 0015 (docs/decisions.md D7): every committed write to a catalogue table raises
 * `catalogue_version` once per transaction, in that transaction; a rollback never does, and neither do
 * writes elsewhere (bookings, the inventory). Checked with plain SQL on the real PostgreSQL.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import pg from "pg"
import * as Database from "../src/Database.js"
import { runMigrations } from "../src/Migrations.js"
import { databaseUrl, freshDatabase, withClient } from "./utils.js"

const version = async (client: pg.Client) =>
  Number((await client.query<{ version: string }>("SELECT version FROM catalogue_version")).rows[0]!.version)

const migrated = Effect.tap(freshDatabase, (db) =>
  runMigrations.pipe(Effect.provide(Database.client(db, { poolSize: 1 })), Effect.scoped, Effect.orDie)
)

describe("catalogue_version (migration 0015)", () => {
  it.scopedLive("each committed catalogue write bumps it once; rollbacks and other tables do not", () =>
    Effect.gen(function* () {
      const db = yield* migrated
      yield* withClient(db.name, async (c) => {
        let v = await version(c)
        const expectBump = async (what: string, sql: string, by = 1) => {
          await c.query(sql)
          const now = await version(c)
          assert.strictEqual(now, v + by, what)
          v = now
        }
        await expectBump("country", "INSERT INTO countries (name, iso_code) VALUES ('Россия', 'RU')")
        await expectBump("city", "INSERT INTO cities (name, country_id) VALUES ('Москва', 1)")
        await expectBump("hotel", "INSERT INTO hotels (title, city_id, address) VALUES ('H', 1, 'A')")
        await expectBump("room", "INSERT INTO rooms (hotel_id, title, price, quantity) VALUES (1, 'R', 100, 3)")
        await expectBump("facility", "INSERT INTO facilities (title) VALUES ('Wi-Fi'), ('Сейф')")
        await expectBump("link", "INSERT INTO rooms_facilities (room_id, facility_id) VALUES (1, 1), (1, 2)")
        await expectBump("update", "UPDATE hotels SET address = 'B' WHERE id = 1")
        await expectBump("delete", "DELETE FROM rooms_facilities WHERE facility_id = 2")
        // many rows and statements in one transaction: one bump
        await expectBump(
          "one transaction",
          `BEGIN; INSERT INTO facilities (title) SELECT 'f' || i FROM generate_series(1, 50) i;
           UPDATE rooms SET price = 200; UPDATE cities SET name = 'Москва!'; COMMIT`
        )
        // nothing written: nothing to bump
        await expectBump("no row", "UPDATE hotels SET address = 'C' WHERE id = 999", 0)
        await expectBump("rollback", "BEGIN; UPDATE hotels SET address = 'D'; ROLLBACK", 0)
        await expectBump(
          "rolled-back savepoint, then a commit",
          "BEGIN; SAVEPOINT s; UPDATE hotels SET address = 'E'; ROLLBACK TO s; COMMIT",
          0
        )
        // outside the catalogue: users, bookings and the inventory they maintain
        await expectBump(
          "booking",
          `INSERT INTO users (email) VALUES ('u@example.com');
           INSERT INTO bookings (room_id, user_id, date_from, date_to, price) VALUES (1, 1, '2030-01-01', '2030-01-03', 400)`,
          0
        )
        // a cascade: the city's hotels, their rooms and the rooms' links go in one statement
        await expectBump("cascade", "DELETE FROM countries WHERE id = 1")
        assert.strictEqual(Number((await c.query("SELECT count(*) FROM rooms")).rows[0].count), 0)
        await expectBump("truncate", "TRUNCATE facilities CASCADE")
      })
    })
  )

  it.scopedLive("the new version is visible exactly when the write is: at its commit", () =>
    Effect.gen(function* () {
      const db = yield* migrated
      yield* Effect.promise(async () => {
        const writer = new pg.Client({ connectionString: databaseUrl(db.name) })
        const reader = new pg.Client({ connectionString: databaseUrl(db.name) })
        await writer.connect()
        await reader.connect()
        try {
          const before = await version(reader)
          await writer.query("BEGIN")
          await writer.query("INSERT INTO facilities (title) VALUES ('Wi-Fi')")
          // not committed: neither the row nor a new version shows
          assert.strictEqual(await version(reader), before)
          assert.strictEqual(Number((await reader.query("SELECT count(*) FROM facilities")).rows[0].count), 0)
          await writer.query("COMMIT")
          // one snapshot holds both: the row and the bumped version
          const both = await reader.query<{ version: string; count: string }>(
            "SELECT (SELECT version FROM catalogue_version), (SELECT count(*) FROM facilities) AS count"
          )
          assert.deepStrictEqual(
            { version: Number(both.rows[0]!.version), count: Number(both.rows[0]!.count) },
            { version: before + 1, count: 1 }
          )
        } finally {
          await writer.end()
          await reader.end()
        }
      })
    })
  )

  it.scopedLive("concurrent catalogue writes each bump once (the version row is locked only at commit)", () =>
    Effect.gen(function* () {
      const db = yield* migrated
      yield* Effect.promise(async () => {
        const pool = new pg.Pool({ connectionString: databaseUrl(db.name), max: 8 })
        try {
          const before = Number((await pool.query("SELECT version FROM catalogue_version")).rows[0].version)
          await Promise.all(
            Array.from({ length: 40 }, (_, i) => pool.query(`INSERT INTO facilities (title) VALUES ('f${i}')`))
          )
          const after = Number((await pool.query("SELECT version FROM catalogue_version")).rows[0].version)
          assert.strictEqual(after, before + 40)
        } finally {
          await pool.end()
        }
      })
    })
  )
})

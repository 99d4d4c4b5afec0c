/**
 * Migration 0023 (docs/data.md §1.13d): on a database that ran 0021, a card left stale by a race (a link or a
 * rename committed between 0021's backfill and its triggers, or a rename racing a link) or a room left without a
 * card is written again, and afterwards every room has a card equal to its tables.
 */
import { NodeContext } from "@effect/platform-node"
import { PgMigrator } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type pg from "pg"
import * as Database from "../src/Database.js"
import { migrations, MIGRATIONS_TABLE, runMigrations } from "../src/Migrations.js"
import { freshDatabase, withClient } from "./utils.js"

type Connection = Effect.Effect.Success<typeof freshDatabase>

const migrate = (connection: Connection) =>
  runMigrations.pipe(Effect.provide(Database.client(connection, { poolSize: 2 })))

const migrateBefore0023 = (connection: Connection) =>
  PgMigrator.run({
    loader: PgMigrator.fromRecord(Object.fromEntries(Object.entries(migrations).filter(([id]) => id < "0023"))),
    table: MIGRATIONS_TABLE
  }).pipe(Effect.provide(NodeContext.layer), Effect.provide(Database.client(connection, { poolSize: 2 })))

const FIXTURE = `
INSERT INTO countries (name, iso_code) VALUES ('Россия', 'RU');
INSERT INTO cities (name, country_id) VALUES ('Москва', 1);
INSERT INTO hotels (title, city_id, address) VALUES ('Гранд', 1, 'ул. Тверская, 1');
INSERT INTO facilities (title) VALUES ('Новое'), ('Wi-Fi');
INSERT INTO rooms (hotel_id, title, price, quantity) VALUES (1, 'Стандарт', 100, 3), (1, 'Люкс', 300, 1),
  (1, 'Пустой', 50, 2);
INSERT INTO rooms_facilities (room_id, facility_id) VALUES (1, 1), (1, 2), (2, 2);
`

/** The rooms whose card is missing or differs from what the tables give. */
const staleRooms = (client: pg.Client) =>
  client
    .query<{ id: number }>(
      `SELECT r.id FROM rooms r LEFT JOIN room_cards c ON c.room_id = r.id
       WHERE c.room_id IS NULL
          OR c.head IS DISTINCT FROM room_card_head(r.id, r.hotel_id, r.title, r.description, r.price)
          OR c.facilities IS DISTINCT FROM room_card_facilities(r.id)
       ORDER BY r.id`
    )
    .then((r) => r.rows.map((row) => row.id))

describe("Migration 0023: room cards written again under the catalogue's locks", () => {
  it.scopedLive("a stale card and a missing one are repaired; every room has an up-to-date card", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* migrateBefore0023(db)
      yield* withClient(db.name, async (c) => {
        await c.query(FIXTURE)
        assert.deepStrictEqual(await staleRooms(c), [])
        // what the races left: the old title of a renamed facility, a room without its link, a room without a card
        await c.query(`UPDATE room_cards SET facilities = '[{"id":1,"title":"Старое"},{"id":2,"title":"Wi-Fi"}]'
                       WHERE room_id = 1`)
        await c.query(`UPDATE room_cards SET facilities = '[]' WHERE room_id = 2`)
        await c.query(`DELETE FROM room_cards WHERE room_id = 3`)
        assert.deepStrictEqual(await staleRooms(c), [1, 2, 3])
      })
      yield* migrate(db)
      yield* withClient(db.name, async (c) => {
        assert.deepStrictEqual(await staleRooms(c), [])
        const cards = await c.query<{ room_id: number; facilities: string }>(
          `SELECT room_id, facilities FROM room_cards ORDER BY room_id`
        )
        assert.deepStrictEqual(
          cards.rows.map((row) => [row.room_id, row.facilities]),
          [
            [1, '[{"id":1,"title":"Новое"},{"id":2,"title":"Wi-Fi"}]'],
            [2, '[{"id":2,"title":"Wi-Fi"}]'],
            [3, "[]"]
          ]
        )
      })
    })
  )

  it.scopedLive("a fresh database: every room has an up-to-date card, kept so by the triggers", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* migrate(db)
      yield* withClient(db.name, async (c) => {
        await c.query(FIXTURE)
        await c.query(`UPDATE facilities SET title = 'Wi-Fi 6' WHERE id = 2`)
        await c.query(`UPDATE rooms_facilities SET facility_id = 1 WHERE room_id = 2`)
        await c.query(`INSERT INTO rooms_facilities (room_id, facility_id) VALUES (3, 2), (3, 1)`)
        assert.deepStrictEqual(await staleRooms(c), [])
        const [none] = (
          await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM room_cards WHERE facilities = '[]'`)
        ).rows
        assert.strictEqual(none!.n, 0)
      })
    })
  )
})

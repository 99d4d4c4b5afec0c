/**
 * Migration 0003 (D2): the per-night inventory, its triggers and its back-fill, checked with plain SQL
 * (independent of the booking service): whoever writes the bookings, `room_nights` follows, and the
 * database itself refuses an overbooking and a quantity below what is sold.
 */
import { NodeContext } from "@effect/platform-node"
import { PgMigrator } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type pg from "pg"
import * as Database from "../src/Database.js"
import { migrations, MIGRATIONS_TABLE, runMigrations } from "../src/Migrations.js"
import { freshDatabase, migrationsFrom, withClient } from "./utils.js"

type Connection = Effect.Effect.Success<typeof freshDatabase>

const migrate = (connection: Connection) =>
  runMigrations.pipe(Effect.provide(Database.client(connection, { poolSize: 2 })))

/** Only the first migrations, as a database that predates 0003 has them. */
const migrateUpTo = (connection: Connection, ids: ReadonlyArray<keyof typeof migrations>) =>
  PgMigrator.run({
    loader: PgMigrator.fromRecord(Object.fromEntries(ids.map((id) => [id, migrations[id]]))),
    table: MIGRATIONS_TABLE
  }).pipe(Effect.provide(NodeContext.layer), Effect.provide(Database.client(connection, { poolSize: 2 })))

/** Night `n` days after today (UTC), as SQL. */
const d = (n: number) => `((now() AT TIME ZONE 'UTC')::date + ${n})`

const FIXTURE = `
INSERT INTO countries (name, iso_code) VALUES ('Россия', 'RU');
INSERT INTO cities (name, country_id) VALUES ('Москва', 1);
INSERT INTO hotels (title, city_id, address) VALUES ('Гранд', 1, 'ул. Тверская, 1');
INSERT INTO rooms (hotel_id, title, price, quantity) VALUES (1, 'Стандарт', 100, 2), (1, 'Люкс', 500, 1);
INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com');
`

const nights = (client: pg.Client, roomId: number) =>
  client
    .query<{ offset: number; capacity: number; sold: number }>(
      `SELECT night - ${d(0)} AS offset, capacity, sold FROM room_nights WHERE room_id = $1 ORDER BY night`,
      [roomId]
    )
    .then((r) => r.rows.map((row) => [row.offset, row.capacity, row.sold]))

/** The constraint a statement violated, or "ok". */
const attempt = (client: pg.Client, statement: string) =>
  client.query(statement).then(
    () => "ok",
    (error: { constraint?: string; message: string }) => error.constraint ?? error.message
  )

const book = (room: number, user: number, from: number, to: number) =>
  `INSERT INTO bookings (room_id, user_id, date_from, date_to, price) VALUES (${room}, ${user}, ${d(from)}, ${d(to)}, 0)`

describe("Migration 0003: the bookings inventory (D2)", () => {
  it.scopedLive("on a fresh database the triggers keep room_nights equal to the bookings, whoever writes", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* migrate(db)
      yield* withClient(db.name, async (c) => {
        await c.query(FIXTURE)
        await c.query(book(1, 1, 1, 3))
        assert.deepStrictEqual(await nights(c, 1), [
          [1, 2, 1],
          [2, 2, 1]
        ])
        await c.query(book(1, 2, 2, 4))
        // a third stay on night 2 is refused by the database itself
        assert.strictEqual(await attempt(c, book(1, 2, 0, 3)), "room_nights_sold_check")
        assert.deepStrictEqual(await nights(c, 1), [
          [1, 2, 1],
          [2, 2, 2],
          [3, 2, 1]
        ])
        // several rows in one statement, one of them too many: all refused
        assert.strictEqual(
          await attempt(
            c,
            `INSERT INTO bookings (room_id, user_id, date_from, date_to, price)
             VALUES (2, 1, ${d(5)}, ${d(6)}, 0), (2, 2, ${d(5)}, ${d(7)}, 0)`
          ),
          "room_nights_sold_check"
        )
        assert.deepStrictEqual(await nights(c, 2), [])

        // moving a stay releases its old nights and takes the new ones
        await c.query(`UPDATE bookings SET date_from = ${d(3)}, date_to = ${d(5)} WHERE id = 1`)
        assert.deepStrictEqual(await nights(c, 1), [
          [1, 2, 0],
          [2, 2, 1],
          [3, 2, 2],
          [4, 2, 1]
        ])
        await c.query(`DELETE FROM bookings WHERE id = 1`)
        assert.deepStrictEqual(await nights(c, 1), [
          [1, 2, 0],
          [2, 2, 1],
          [3, 2, 1],
          [4, 2, 0]
        ])

        // quantity: future capacity follows, never below what is sold; past nights keep theirs
        await c.query(`INSERT INTO room_nights (room_id, night, capacity, sold) VALUES (1, ${d(-2)}, 2, 0)`)
        await c.query(`UPDATE rooms SET quantity = 1 WHERE id = 1`)
        assert.deepStrictEqual(await nights(c, 1), [
          [-2, 2, 0],
          [1, 1, 0],
          [2, 1, 1],
          [3, 1, 1],
          [4, 1, 0]
        ])
        assert.strictEqual(await attempt(c, `UPDATE rooms SET quantity = 0 WHERE id = 1`), "room_nights_sold_check")
        assert.strictEqual(await attempt(c, `UPDATE rooms SET title = 'x', quantity = 1 WHERE id = 1`), "ok")
        await c.query(`UPDATE rooms SET quantity = 3 WHERE id = 1`)
        await c.query(book(1, 1, 2, 3))
        await c.query(book(1, 1, 2, 3))
        assert.deepStrictEqual(
          (await nights(c, 1)).find(([n]) => n === 2),
          [2, 3, 3]
        )

        // a user deleted: their bookings go by cascade and free their nights
        await c.query(`DELETE FROM users WHERE id = 1`)
        assert.deepStrictEqual(
          (await nights(c, 1)).map(([n, , sold]) => [n, sold]),
          [
            [-2, 0],
            [1, 0],
            [2, 1],
            [3, 1],
            [4, 0]
          ]
        )
        await c.query(`TRUNCATE bookings`)
        assert.isTrue((await nights(c, 1)).every(([, , sold]) => sold === 0))
        // a room deleted takes its nights along
        await c.query(book(1, 2, 1, 2))
        await c.query(`DELETE FROM rooms WHERE id = 1`)
        const left = await c.query(`SELECT count(*)::int AS n FROM room_nights WHERE room_id = 1`)
        assert.deepStrictEqual(left.rows, [{ n: 0 }])
      })
    })
  )

  it.scopedLive("an adopted database is back-filled from its bookings, legacy overbooking kept", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      // the original's schema (0001 adopts or creates it), with the original's data: nothing checked
      yield* migrateUpTo(db, ["0001_baseline"])
      yield* withClient(db.name, async (c) => {
        await c.query(FIXTURE)
        await c.query(
          [
            book(1, 1, 1, 3),
            book(1, 2, 2, 4),
            // the original's race let a third unit in on night 2
            book(1, 1, 2, 3),
            // back-to-back, past stays, and an empty stay the original accepted
            book(2, 1, -5, -3),
            book(2, 2, -3, -1),
            book(2, 2, 7, 7)
          ].join(";")
        )
      })
      const applied = yield* migrate(db)
      assert.deepStrictEqual(applied, migrationsFrom(2))
      yield* withClient(db.name, async (c) => {
        assert.deepStrictEqual(await nights(c, 1), [
          [1, 2, 1],
          [2, 3, 3],
          [3, 2, 1]
        ])
        assert.deepStrictEqual(await nights(c, 2), [
          [-5, 1, 1],
          [-4, 1, 1],
          [-3, 1, 1],
          [-2, 1, 1]
        ])
        const bookings = await c.query(`SELECT count(*)::int AS n FROM bookings`)
        assert.deepStrictEqual(bookings.rows, [{ n: 6 }])
        // the overbooked night sells nothing more, the others still do
        assert.strictEqual(await attempt(c, book(1, 2, 2, 3)), "room_nights_sold_check")
        assert.strictEqual(await attempt(c, book(1, 2, 3, 4)), "ok")
        // the quantity may not go below what is sold on a future night
        assert.strictEqual(await attempt(c, `UPDATE rooms SET quantity = 1 WHERE id = 1`), "room_nights_sold_check")
        // (the unchanged legacy quantity stays writable: nothing moves)
        assert.strictEqual(await attempt(c, `UPDATE rooms SET quantity = 2 WHERE id = 1`), "ok")
        assert.strictEqual(await attempt(c, `UPDATE rooms SET quantity = 4 WHERE id = 1`), "ok")
        assert.deepStrictEqual(await nights(c, 1), [
          [1, 4, 1],
          [2, 4, 3],
          [3, 4, 2]
        ])
      })
      assert.deepStrictEqual(yield* migrate(db), [])
    })
  )
})

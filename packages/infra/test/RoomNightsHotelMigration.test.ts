/**
 * Migrations 0028 and 0032 (docs/data.md §1.12): every night of the inventory carries its room type's hotel
 * (`room_nights.hotel_id`), whoever wrote it — the nights there before the migration, a booking, a hold, a moved
 * stay (each written with the hotel, the filling trigger not run), an operator's `INSERT` without it (filled by
 * the trigger) — a night with another hotel is refused, and a room moved to another hotel moves its nights. The page-of-hotels search reads the nights by hotel, so a night with a wrong hotel
 * would be a unit it does not see.
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

const migrateBefore0028 = (connection: Connection) =>
  PgMigrator.run({
    loader: PgMigrator.fromRecord(Object.fromEntries(Object.entries(migrations).filter(([id]) => id < "0028"))),
    table: MIGRATIONS_TABLE
  }).pipe(Effect.provide(NodeContext.layer), Effect.provide(Database.client(connection, { poolSize: 2 })))

/** Night `n` days after today (UTC), as SQL. */
const d = (n: number) => `((now() AT TIME ZONE 'UTC')::date + ${n})`

/** Two hotels, rooms 1 and 2 in the first, room 3 in the second. */
const FIXTURE = `
INSERT INTO countries (name, iso_code) VALUES ('Россия', 'RU');
INSERT INTO cities (name, country_id) VALUES ('Москва', 1);
INSERT INTO hotels (title, city_id, address) VALUES ('Гранд', 1, 'ул. Тверская, 1'), ('Малый', 1, 'ул. Арбат, 2');
INSERT INTO rooms (hotel_id, title, price, quantity) VALUES (1, 'Стандарт', 100, 3), (1, 'Люкс', 300, 2), (2, 'Эконом', 50, 4);
INSERT INTO users (email) VALUES ('a@example.com');
`

const book = (room: number, from: number, to: number) =>
  `INSERT INTO bookings (room_id, user_id, date_from, date_to, price) VALUES (${room}, 1, ${d(from)}, ${d(to)}, 0)`

const hold = (room: number, from: number, to: number) =>
  `INSERT INTO holds (user_id, room_id, date_from, date_to, price, expires_at)
   VALUES (1, ${room}, ${d(from)}, ${d(to)}, 0, now() + interval '10 minutes')`

/** [room, night offset, hotel] of every night, and how many carry a hotel other than their room's. */
const nights = (client: pg.Client) =>
  client
    .query<{ room: number; offset: number; hotel: number; wrong: number }>(
      `SELECT n.room_id AS room, n.night - ${d(0)} AS offset, n.hotel_id AS hotel,
         (SELECT count(*)::int FROM room_nights m JOIN rooms r ON r.id = m.room_id WHERE m.hotel_id <> r.hotel_id) AS wrong
       FROM room_nights n ORDER BY n.room_id, n.night`
    )
    .then((r) => ({ wrong: r.rows[0]?.wrong ?? 0, rows: r.rows.map((row) => [row.room, row.offset, row.hotel]) }))

/**
 * How often the trigger function `room_nights_hotel` ran in the current transaction (counted with
 * `track_functions` on; the function's row appears only once it ran).
 */
const fillerCalls = (client: pg.Client) =>
  client
    .query<{ calls: number }>(
      `SELECT coalesce(sum(calls), 0)::int AS calls FROM pg_stat_xact_user_functions WHERE funcname = 'room_nights_hotel'`
    )
    .then((r) => r.rows[0]?.calls ?? 0)

/** The constraint a statement violated, or "ok". */
const attempt = (client: pg.Client, statement: string) =>
  client.query(statement).then(
    () => "ok",
    (error: { constraint?: string; message: string }) => error.constraint ?? error.message
  )

describe("Migration 0028: the inventory carries the room's hotel", () => {
  it.scopedLive("the nights there before it get their room's hotel", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* migrateBefore0028(db)
      yield* withClient(db.name, async (c) => {
        await c.query(FIXTURE)
        await c.query(book(1, 1, 3))
        await c.query(book(3, 2, 4))
        await c.query(hold(2, 1, 2))
      })
      yield* migrate(db)
      const after = yield* withClient(db.name, nights)
      assert.deepStrictEqual(after, {
        wrong: 0,
        rows: [
          [1, 1, 1],
          [1, 2, 1],
          [2, 1, 1],
          [3, 2, 2],
          [3, 3, 2]
        ]
      })
    })
  )

  it.scopedLive(
    "whoever inserts a night it carries the room's hotel; another is refused; a moved room moves them",
    () =>
      Effect.gen(function* () {
        const db = yield* freshDatabase
        yield* migrate(db)
        yield* withClient(db.name, async (c) => {
          await c.query(FIXTURE)
          // one transaction, its calls of room_nights_hotel counted (pg_stat_xact_user_functions)
          await c.query(`BEGIN`)
          await c.query(`SET LOCAL track_functions = 'pl'`)
          // the write path's inserts write the hotel themselves, so the filling trigger never runs for them (its
          // WHEN is false): a booking made directly (bookings_take_nights_of_row), a hold (holds_take_nights), a
          // stay moved by an update to nights without rows (the statement-level bookings_take_nights), and one
          // moved by change_booking_dates (its own insert, then the update's)
          await c.query(book(1, 1, 2))
          await c.query(hold(3, 1, 2))
          await c.query(`UPDATE bookings SET date_from = ${d(5)}, date_to = ${d(6)} WHERE room_id = 1`)
          const moved = await c.query<{ outcome: string }>(
            `SELECT outcome FROM change_booking_dates(1, 1, false, ${d(8)}, ${d(10)}, ${d(0)})`
          )
          assert.deepStrictEqual(
            moved.rows.map((r) => r.outcome),
            ["changed"]
          )
          assert.strictEqual(await fillerCalls(c), 0, "room_nights_hotel ran for a night the write path inserted")
          // an operator's insert without the hotel: filled by room_nights_hotel (counted, so the count above is real)
          await c.query(`INSERT INTO room_nights (room_id, night, capacity) VALUES (2, ${d(7)}, 2)`)
          assert.strictEqual(await fillerCalls(c), 1)
          await c.query(`COMMIT`)
          assert.deepStrictEqual(await nights(c), {
            wrong: 0,
            rows: [
              [1, 1, 1],
              [1, 5, 1],
              [1, 8, 1],
              [1, 9, 1],
              [2, 7, 1],
              [3, 1, 2]
            ]
          })
          // another hotel than the room's: refused by the foreign key
          assert.strictEqual(
            await attempt(c, `INSERT INTO room_nights (room_id, night, capacity, hotel_id) VALUES (2, ${d(8)}, 2, 2)`),
            "room_nights_room_id_fkey"
          )
          assert.strictEqual(
            await attempt(c, `UPDATE room_nights SET hotel_id = 2 WHERE room_id = 1`),
            "room_nights_room_id_fkey"
          )
          // a room moved to the other hotel takes its nights along; a room deleted takes them away (as before)
          await c.query(`UPDATE rooms SET hotel_id = 2 WHERE id = 1`)
          await c.query(`DELETE FROM rooms WHERE id = 2`)
          assert.deepStrictEqual(await nights(c), {
            wrong: 0,
            rows: [
              [1, 1, 2],
              [1, 5, 2],
              [1, 8, 2],
              [1, 9, 2],
              [3, 1, 2]
            ]
          })
        })
      })
  )
})

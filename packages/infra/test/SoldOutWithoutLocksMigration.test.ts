/**
 * Migration 0017 (docs/data.md BR-5, BR-13): a new stay refused as sold out is judged on the committed nights
 * without locks — it neither waits for a night's lock held by a write in flight nor records anything — while a
 * stay that may fit still takes the locking check (expired holds released under the night locks).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type pg from "pg"
import * as Database from "../src/Database.js"
import { runMigrations } from "../src/Migrations.js"
import { freshDatabase, withClient } from "./utils.js"

/** Night `n` days after today (UTC), as SQL. */
const d = (n: number) => `((now() AT TIME ZONE 'UTC')::date + ${n})`

const FIXTURE = `
INSERT INTO countries (name, iso_code) VALUES ('Россия', 'RU');
INSERT INTO cities (name, country_id) VALUES ('Москва', 1);
INSERT INTO hotels (title, city_id, address) VALUES ('Гранд', 1, 'ул. Тверская, 1');
INSERT INTO rooms (hotel_id, title, price, quantity) VALUES (1, 'Стандарт', 100, 1), (1, 'Люкс', 500, 2);
INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com');
INSERT INTO bookings (room_id, user_id, date_from, date_to, price) VALUES (1, 1, ${d(1)}, ${d(2)}, 0);
INSERT INTO bookings (room_id, user_id, date_from, date_to, price) VALUES (2, 1, ${d(1)}, ${d(2)}, 0);
`

/** `take_nights` of room `room` over [from, to): the full nights as offsets from today, or the error's code. */
const take = (client: pg.Client, room: number, from: number, to: number) =>
  client
    .query<{ full: Array<number> }>(
      `SELECT ARRAY(SELECT f - ${d(0)} FROM unnest(take_nights(${room}, ${d(from)}, ${d(to)})) AS f) AS full`
    )
    .then(
      (r) => r.rows[0]!.full,
      (error: { code?: string }) => error.code ?? "error"
    )

const holdStatus = (client: pg.Client, id: number) =>
  client.query<{ status: string }>(`SELECT status FROM holds WHERE id = ${id}`).then((r) => r.rows[0]!.status)

describe("Migration 0017: sold out without locks", () => {
  it.scopedLive("a refusal waits for no night's lock and records nothing; a stay that may fit locks", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* runMigrations.pipe(Effect.provide(Database.client(db, { poolSize: 2 })))
      yield* withClient(db.name, async (c) => {
        await c.query(FIXTURE)
        // an expired hold on room 1's night 2
        const { rows } = await c.query<{ id: number }>(
          `INSERT INTO holds (user_id, room_id, date_from, date_to, price, expires_at)
           VALUES (2, 1, ${d(2)}, ${d(3)}, 0, now() + interval '1 hour') RETURNING id`
        )
        const expired = rows[0]!.id
        await c.query(`UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = ${expired}`)
      })
      yield* withClient(db.name, (writer) =>
        Effect.runPromise(
          withClient(db.name, async (c) => {
            // a write in flight holds every night of both rooms
            await writer.query("BEGIN")
            await writer.query("SELECT 1 FROM room_nights ORDER BY room_id, night FOR UPDATE")
            await c.query("SET lock_timeout = '300ms'")
            // room 1's night 1 is full: answered at once, nothing waited for, the expired hold left as it is
            assert.deepStrictEqual(await take(c, 1, 1, 3), [1])
            const [hold] = (await c.query<{ id: number }>(`SELECT id FROM holds`)).rows
            assert.strictEqual(await holdStatus(c, hold!.id), "active")
            const booked = await c.query<{ outcome: string }>(
              `SELECT outcome FROM book_stay(1, 2, ${d(1)}, ${d(2)}, ${d(0)})`
            )
            assert.deepStrictEqual(booked.rows, [{ outcome: "sold_out" }])
            // room 2 has a unit left on night 1, and room 1's night 2 only an expired hold: both wait for the lock
            assert.strictEqual(await take(c, 2, 1, 2), "55P03")
            assert.strictEqual(await take(c, 1, 2, 3), "55P03")
            await writer.query("ROLLBACK")
            // the lock gone, the stay that fits is judged under the locks and records the expiry
            assert.deepStrictEqual(await take(c, 1, 2, 3), [])
            assert.strictEqual(await holdStatus(c, hold!.id), "expired")
          })
        )
      )
    })
  )
})

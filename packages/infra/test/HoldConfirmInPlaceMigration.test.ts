/**
 * Migration 0012 (docs/data.md BR-13): a hold's confirm writes no night — the booking it makes carries the hold's
 * units in `room_nights.held` — checked with plain SQL, whoever writes: `sold` counts the confirmed bookings made
 * directly, `held` the active holds and the confirmed bookings made from a hold, the handover between a hold and
 * its booking is exact or refused, and a database confirmed under 0008's rule keeps its counts.
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

/** The migrations before 0012, as a database confirmed holds under 0008's rule. */
const migrateBefore0012 = (connection: Connection) =>
  PgMigrator.run({
    loader: PgMigrator.fromRecord(Object.fromEntries(Object.entries(migrations).filter(([id]) => id < "0012"))),
    table: MIGRATIONS_TABLE
  }).pipe(Effect.provide(NodeContext.layer), Effect.provide(Database.client(connection, { poolSize: 2 })))

/** Night `n` days after today (UTC), as SQL. */
const d = (n: number) => `((now() AT TIME ZONE 'UTC')::date + ${n})`

const FIXTURE = `
INSERT INTO countries (name, iso_code) VALUES ('Россия', 'RU');
INSERT INTO cities (name, country_id) VALUES ('Москва', 1);
INSERT INTO hotels (title, city_id, address) VALUES ('Гранд', 1, 'ул. Тверская, 1');
INSERT INTO rooms (hotel_id, title, price, quantity) VALUES (1, 'Стандарт', 100, 3);
INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com');
`

/** [night offset, sold, held] of room 1. */
const nights = (client: pg.Client) =>
  client
    .query<{ offset: number; sold: number; held: number }>(
      `SELECT night - ${d(0)} AS offset, sold, held FROM room_nights WHERE room_id = 1 ORDER BY night`
    )
    .then((r) => r.rows.map((row) => [row.offset, row.sold, row.held]))

/** The constraint a statement violated, or "ok". */
const attempt = (client: pg.Client, statement: string) =>
  client.query(statement).then(
    () => "ok",
    (error: { constraint?: string; message: string }) => error.constraint ?? error.message
  )

/** An active hold of `user` on room 1, its id. */
const hold = (client: pg.Client, user: number, from: number, to: number) =>
  client
    .query<{ id: number }>(
      `INSERT INTO holds (user_id, room_id, date_from, date_to, price, expires_at)
       VALUES (${user}, 1, ${d(from)}, ${d(to)}, 0, now() + interval '10 minutes') RETURNING id`
    )
    .then((r) => r.rows[0]!.id)

const confirm = (client: pg.Client, holdId: number) =>
  client
    .query<{ outcome: string; id: number }>(
      `SELECT outcome, (answer->>'id')::int AS id FROM hold_confirm(${holdId}, 1, true)`
    )
    .then((r) => r.rows[0]!)

const book = (user: number, from: number, to: number) =>
  `INSERT INTO bookings (room_id, user_id, date_from, date_to, price) VALUES (1, ${user}, ${d(from)}, ${d(to)}, 0)`

describe("Migration 0012: a hold's confirm writes no night (BR-13)", () => {
  it.scopedLive("the booking made from a hold carries its units in held, whoever writes", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* migrate(db)
      yield* withClient(db.name, async (c) => {
        await c.query(FIXTURE)
        const first = await hold(c, 1, 1, 3)
        assert.deepStrictEqual(await nights(c), [
          [1, 0, 1],
          [2, 0, 1]
        ])
        // the confirm leaves the night rows as they were: not even rewritten (same row versions)
        const versions = `SELECT xmin::text FROM room_nights WHERE room_id = 1 ORDER BY night`
        const before = (await c.query(versions)).rows
        const confirmed = await confirm(c, first)
        assert.strictEqual(confirmed.outcome, "confirmed_now")
        assert.deepStrictEqual((await c.query(versions)).rows, before)
        assert.deepStrictEqual(await nights(c), [
          [1, 0, 1],
          [2, 0, 1]
        ])
        const [made] = (
          await c.query(`SELECT b.hold_id, h.status, h.booking_id FROM bookings b JOIN holds h ON h.id = b.hold_id`)
        ).rows
        assert.deepStrictEqual(made, { hold_id: first, status: "confirmed", booking_id: confirmed.id })

        // the handover is exact or refused: a hold not active, another user's, other dates, a second booking
        const second = await hold(c, 1, 2, 4)
        const fromHold = (holdId: number, user: number, from: number, to: number) =>
          `INSERT INTO bookings (room_id, user_id, date_from, date_to, price, hold_id)
           VALUES (1, ${user}, ${d(from)}, ${d(to)}, 0, ${holdId})`
        assert.strictEqual(await attempt(c, fromHold(second, 2, 2, 4)), "bookings_hold_id_check")
        assert.strictEqual(await attempt(c, fromHold(second, 1, 2, 3)), "bookings_hold_id_check")
        assert.strictEqual(await attempt(c, fromHold(first, 1, 1, 3)), "ux_bookings_hold_id")
        await c.query(`UPDATE holds SET status = 'released' WHERE id = ${second}`)
        assert.strictEqual(await attempt(c, fromHold(second, 1, 2, 4)), "bookings_hold_id_check")
        assert.deepStrictEqual(await nights(c), [
          [1, 0, 1],
          [2, 0, 1],
          [3, 0, 0]
        ])

        // a hold marked confirmed by hand (no booking takes it over) leaves active: its units go
        const byHand = await hold(c, 2, 1, 2)
        await c.query(`UPDATE holds SET status = 'confirmed' WHERE id = ${byHand}`)
        assert.deepStrictEqual((await nights(c))[0], [1, 0, 1])

        // the booking moved: its units move in held; cancelled: they come back; made confirmed again: taken
        await c.query(`UPDATE bookings SET date_from = ${d(2)}, date_to = ${d(4)} WHERE id = ${confirmed.id}`)
        assert.deepStrictEqual(await nights(c), [
          [1, 0, 0],
          [2, 0, 1],
          [3, 0, 1]
        ])
        await c.query(book(2, 2, 3))
        await c.query(`UPDATE bookings SET status = 'cancelled' WHERE id = ${confirmed.id}`)
        assert.deepStrictEqual(await nights(c), [
          [1, 0, 0],
          [2, 1, 0],
          [3, 0, 0]
        ])
        await c.query(`UPDATE bookings SET status = 'confirmed' WHERE id = ${confirmed.id}`)
        assert.deepStrictEqual(await nights(c), [
          [1, 0, 0],
          [2, 1, 1],
          [3, 0, 1]
        ])
        // everything taken stays under the constraint: a third unit on night 2 fits, a fourth does not
        await c.query(book(1, 2, 3))
        assert.strictEqual(await attempt(c, book(2, 2, 3)), "room_nights_sold_check")
        await hold(c, 2, 3, 4)
        assert.deepStrictEqual(await nights(c), [
          [1, 0, 0],
          [2, 2, 1],
          [3, 0, 2]
        ])

        // TRUNCATE of one table recounts what the other still carries
        await c.query(`TRUNCATE holds`)
        assert.deepStrictEqual(await nights(c), [
          [1, 0, 0],
          [2, 2, 1],
          [3, 0, 1]
        ])
        await hold(c, 2, 1, 2)
        await c.query(`TRUNCATE bookings`)
        assert.deepStrictEqual(await nights(c), [
          [1, 0, 1],
          [2, 0, 0],
          [3, 0, 0]
        ])
        // a user deleted: their holds and bookings go by cascade, each giving back what it carried
        const third = await hold(c, 1, 2, 3)
        await confirm(c, third)
        await c.query(book(1, 3, 4))
        await c.query(`DELETE FROM users WHERE id = 1`)
        assert.deepStrictEqual(await nights(c), [
          [1, 0, 1],
          [2, 0, 0],
          [3, 0, 0]
        ])
      })
    })
  )

  it.scopedLive("bookings confirmed under 0008's rule (counted in sold, no hold_id) keep their counts", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* migrateBefore0012(db)
      const old = yield* withClient(db.name, async (c) => {
        await c.query(FIXTURE)
        const confirmed = await confirm(c, await hold(c, 1, 1, 2))
        assert.strictEqual(confirmed.outcome, "confirmed_now")
        assert.deepStrictEqual(await nights(c), [[1, 1, 0]])
        return confirmed.id
      })
      yield* migrate(db)
      yield* withClient(db.name, async (c) => {
        assert.deepStrictEqual(await nights(c), [[1, 1, 0]])
        const { rows } = await c.query(`SELECT hold_id FROM bookings WHERE id = ${old}`)
        assert.deepStrictEqual(rows, [{ hold_id: null }])
        await c.query(`UPDATE bookings SET status = 'cancelled' WHERE id = ${old}`)
        assert.deepStrictEqual(await nights(c), [[1, 0, 0]])
      })
    })
  )
})

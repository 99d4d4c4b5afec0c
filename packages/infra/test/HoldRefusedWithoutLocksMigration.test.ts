/**
 * Migration 0024 (docs/data.md §1.12, BR-13): a hold refused as sold out takes no lock and writes nothing — it
 * waits neither for the room's row nor for the user's advisory lock nor for a night, gets no transaction id —
 * while the order of the refusals stays 0008's (too many holds before sold out) and a keyed request or a stay
 * that may fit still takes the locked path.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type pg from "pg"
import * as Database from "../src/Database.js"
import { runMigrations } from "../src/Migrations.js"
import { freshDatabase, withClient } from "./utils.js"

/** Night `n` days after today (UTC), as SQL. */
const d = (n: number) => `((now() AT TIME ZONE 'UTC')::date + ${n})`

/** Room 1 (one unit) is booked on night 1; room 2 (two units) has one left there. User 2 has two active holds. */
const FIXTURE = `
INSERT INTO countries (name, iso_code) VALUES ('Россия', 'RU');
INSERT INTO cities (name, country_id) VALUES ('Москва', 1);
INSERT INTO hotels (title, city_id, address) VALUES ('Гранд', 1, 'ул. Тверская, 1');
INSERT INTO rooms (hotel_id, title, price, quantity) VALUES (1, 'Стандарт', 100, 1), (1, 'Люкс', 500, 2);
INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com');
INSERT INTO bookings (room_id, user_id, date_from, date_to, price) VALUES (1, 1, ${d(1)}, ${d(2)}, 0);
INSERT INTO bookings (room_id, user_id, date_from, date_to, price) VALUES (2, 1, ${d(1)}, ${d(2)}, 0);
INSERT INTO holds (user_id, room_id, date_from, date_to, price, expires_at)
VALUES (2, 2, ${d(10)}, ${d(11)}, 0, now() + interval '1 hour'), (2, 2, ${d(12)}, ${d(13)}, 0, now() + interval '1 hour');
`

/** `hold_place` for `user` on `room` over [from, to), at most `max` active holds, with `key`: outcome and full nights. */
const place = (client: pg.Client, user: number, room: number, from: number, to: number, max = 5, key?: string) =>
  client
    .query<{ outcome: string; full: Array<number> | null }>(
      `SELECT outcome, ARRAY(SELECT f - ${d(0)} FROM unnest(full_nights) AS f) AS full
       FROM hold_place(${room}, ${user}, ${d(from)}, ${d(to)}, ${d(0)}, 600, ${max},
                       ${key === undefined ? "NULL" : `'${key}'`}, ${key === undefined ? "NULL" : "'hash'"})`
    )
    .then(
      (r) => [r.rows[0]!.outcome, r.rows[0]!.full] as const,
      (error: { code?: string }) => [error.code ?? "error", null] as const
    )

describe("Migration 0024: a hold refused without locks", () => {
  it.scopedLive("sold out is answered waiting for no lock, with no transaction id; the order of refusals kept", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* runMigrations.pipe(Effect.provide(Database.client(db, { poolSize: 2 })))
      yield* withClient(db.name, (c) => c.query(FIXTURE))
      yield* withClient(db.name, (writer) =>
        Effect.runPromise(
          withClient(db.name, async (c) => {
            // a write in flight holds both rooms' rows, every night and both users' advisory locks
            await writer.query("BEGIN")
            await writer.query("SELECT 1 FROM rooms ORDER BY id FOR UPDATE")
            await writer.query("SELECT 1 FROM room_nights ORDER BY room_id, night FOR UPDATE")
            await writer.query(
              "SELECT pg_advisory_xact_lock(hashtext('holds_per_user'), 1), pg_advisory_xact_lock(hashtext('holds_per_user'), 2)"
            )
            await c.query("SET lock_timeout = '300ms'")
            // room 1's night 1 is full: answered at once, in a transaction that got no id and wrote nothing
            await c.query("BEGIN")
            assert.deepStrictEqual(await place(c, 1, 1, 1, 3), ["sold_out", [1]])
            const xid = await c.query<{ xid: string | null }>("SELECT txid_current_if_assigned()::text AS xid")
            assert.deepStrictEqual(xid.rows, [{ xid: null }])
            await c.query("COMMIT")
            assert.strictEqual((await c.query("SELECT 1 FROM holds WHERE room_id = 1")).rowCount, 0)
            // the same stay for a user at the cap: too_many comes first, judged under the user's lock
            assert.deepStrictEqual(await place(c, 2, 1, 1, 3, 2), ["55P03", null])
            // with a key, the claim comes first: the locked path
            assert.deepStrictEqual(await place(c, 1, 1, 1, 3, 5, "k-1"), ["55P03", null])
            // room 2 has a unit left: the locked path, which waits
            assert.deepStrictEqual(await place(c, 1, 2, 1, 2), ["55P03", null])
            // invalid dates and a missing room are the locked path's answers (no room first)
            assert.deepStrictEqual(await place(c, 1, 99, 3, 1), ["no_room", []])
            await writer.query("ROLLBACK")
            assert.deepStrictEqual(await place(c, 2, 1, 1, 3, 2), ["too_many", []])
            assert.deepStrictEqual(await place(c, 1, 1, 1, 3, 5, "k-1"), ["sold_out", [1]])
            assert.strictEqual((await c.query("SELECT 1 FROM idempotency_keys")).rowCount, 0)
            assert.deepStrictEqual((await place(c, 1, 2, 1, 2))[0], "held")
            // room 2's night 1 is now full, its unit held: the next is refused without a lock
            assert.deepStrictEqual(await place(c, 2, 2, 1, 2), ["sold_out", [1]])
          })
        )
      )
    })
  )

  it.scopedLive("an expired hold counts free: the stay that may fit takes the locked path and gets the unit", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* runMigrations.pipe(Effect.provide(Database.client(db, { poolSize: 2 })))
      yield* withClient(db.name, async (c) => {
        await c.query(FIXTURE)
        // room 1's night 3 held by user 1, the hold past its time (not yet recorded expired)
        const { rows } = await c.query<{ id: number }>(
          `INSERT INTO holds (user_id, room_id, date_from, date_to, price, expires_at)
           VALUES (1, 1, ${d(3)}, ${d(4)}, 0, now() + interval '1 hour') RETURNING id`
        )
        await c.query(`UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = ${rows[0]!.id}`)
        assert.deepStrictEqual((await place(c, 2, 1, 3, 4))[0], "held")
        const status = await c.query<{ status: string }>(`SELECT status FROM holds WHERE id = ${rows[0]!.id}`)
        assert.deepStrictEqual(status.rows, [{ status: "expired" }])
        // and now night 3 is full for anyone else
        assert.deepStrictEqual(await place(c, 1, 1, 2, 4), ["sold_out", [3]])
      })
    })
  )
})

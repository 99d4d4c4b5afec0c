/**
 * Migration 0006 (docs/decisions.md D12) on a database that already holds e-mail case twins, as the original
 * let them be made: it applies without failing, keeps every account, and from then on the database itself
 * refuses a new twin, whoever writes. Checked with plain SQL, independent of the server.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type pg from "pg"
import * as Database from "../src/Database.js"
import { migrations, runMigrations } from "../src/Migrations.js"
import { freshDatabase, migrateOnly, migrationsFrom, withClient } from "./utils.js"

type Connection = Effect.Effect.Success<typeof freshDatabase>

const migrate = (connection: Connection) =>
  runMigrations.pipe(Effect.provide(Database.client(connection, { poolSize: 2 })))

const BEFORE = (Object.keys(migrations) as Array<keyof typeof migrations>).filter((id) => id < "0006")

const TWINS = `
INSERT INTO users (email, first_name) VALUES
  ('case@example.com', 'first'), ('Case@example.com', 'second'), ('CASE@example.com', 'third'),
  ('solo@example.com', 'solo'), ('Other@example.com', 'other'), ('other@example.com', 'other twin');
`

/** The constraint a statement violated, or "ok". */
const attempt = (client: pg.Client, statement: string) =>
  client.query(statement).then(
    () => "ok",
    (error: { constraint?: string; message: string }) => error.constraint ?? error.message
  )

const users = (client: pg.Client) =>
  client
    .query<{ id: number; email: string; twin: boolean }>(
      `SELECT id, email, email_case_twin AS twin FROM users ORDER BY id`
    )
    .then((r) => r.rows.map((row) => [row.id, row.email, row.twin]))

describe("Migration 0006: e-mails unique without regard to case, over legacy case twins (D12)", () => {
  it.scopedLive("twins are kept and marked, all but the oldest of each group; a new twin is refused", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* migrateOnly(db, BEFORE)
      yield* withClient(db.name, (c) => c.query(TWINS))
      assert.deepStrictEqual(yield* migrate(db), migrationsFrom(6))
      yield* withClient(db.name, async (c) => {
        assert.deepStrictEqual(await users(c), [
          [1, "case@example.com", false],
          [2, "Case@example.com", true],
          [3, "CASE@example.com", true],
          [4, "solo@example.com", false],
          [5, "Other@example.com", false],
          [6, "other@example.com", true]
        ])
        // a new twin of any of them, or of a plain address, is refused by the database itself
        for (const email of ["cASE@example.com", "OTHER@example.com", "Solo@example.com"]) {
          assert.strictEqual(
            await attempt(c, `INSERT INTO users (email) VALUES ('${email}')`),
            "ux_users_lower_email",
            email
          )
        }
        // a row cannot be inserted already marked (that would slip past the index)
        assert.strictEqual(
          await attempt(c, `INSERT INTO users (email, email_case_twin) VALUES ('cAsE@example.com', true)`),
          "ux_users_lower_email"
        )
        // nor can another account take a twin's address in another case
        assert.strictEqual(
          await attempt(c, `UPDATE users SET email = 'CaSe@example.com' WHERE id = 4`),
          "ux_users_lower_email"
        )
        // a twin taking an address of its own leaves the group and is held to the index from then on
        assert.strictEqual(await attempt(c, `UPDATE users SET email = 'third@example.com' WHERE id = 3`), "ok")
        assert.strictEqual(
          await attempt(c, `UPDATE users SET email = 'CASE@example.com' WHERE id = 3`),
          "ux_users_lower_email"
        )
        // the indexed account of a group deleted, or moved away: the next oldest twin stands for the group
        await c.query(`DELETE FROM users WHERE id = 1`)
        assert.strictEqual(
          await attempt(c, `INSERT INTO users (email) VALUES ('case@example.com')`),
          "ux_users_lower_email"
        )
        await c.query(`UPDATE users SET email = 'moved@example.com' WHERE id = 5`)
        assert.strictEqual(
          await attempt(c, `INSERT INTO users (email) VALUES ('OTHER@example.com')`),
          "ux_users_lower_email"
        )
        assert.deepStrictEqual(await users(c), [
          [2, "Case@example.com", false],
          [3, "third@example.com", false],
          [4, "solo@example.com", false],
          [5, "moved@example.com", false],
          [6, "other@example.com", false]
        ])
      })
      assert.deepStrictEqual(yield* migrate(db), [])
    })
  )

  it.scopedLive("a twin changing only the case of its own address, or an account its own case, is fine", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* migrateOnly(db, BEFORE)
      yield* withClient(db.name, (c) => c.query(TWINS))
      yield* migrate(db)
      yield* withClient(db.name, async (c) => {
        assert.strictEqual(await attempt(c, `UPDATE users SET email = 'SOLO@example.com' WHERE id = 4`), "ok")
        // the indexed account of a group changing its own case stays the group's indexed account
        assert.strictEqual(await attempt(c, `UPDATE users SET email = 'cASe@example.com' WHERE id = 1`), "ok")
        assert.deepStrictEqual((await users(c)).slice(0, 3), [
          [1, "cASe@example.com", false],
          [2, "Case@example.com", true],
          [3, "CASE@example.com", true]
        ])
        // a marked twin taking another case of the group's address collides with the indexed one
        assert.strictEqual(
          await attempt(c, `UPDATE users SET email = 'CAse@example.com' WHERE id = 2`),
          "ux_users_lower_email"
        )
      })
    })
  )

  it.scopedLive("without twins every account is indexed", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* migrateOnly(db, BEFORE)
      yield* withClient(db.name, (c) =>
        c.query(`INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com')`)
      )
      yield* migrate(db)
      const marked = yield* withClient(db.name, (c) =>
        c.query(`SELECT count(*)::int AS n FROM users WHERE email_case_twin`)
      )
      assert.deepStrictEqual(marked.rows, [{ n: 0 }])
    })
  )
})

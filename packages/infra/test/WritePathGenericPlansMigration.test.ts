/**
 * Migration 0027 (docs/data.md §1.12): the write path's functions keep `plan_cache_mode = force_generic_plan`
 * and `session_refusal` stays PL/pgSQL on the fully migrated database. A later `CREATE OR REPLACE FUNCTION` of
 * one of them drops its `ALTER FUNCTION … SET` silently (its `proconfig` becomes NULL) and the plans would be
 * made again on every call: this test names the function that lost it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Database from "../src/Database.js"
import { runMigrations } from "../src/Migrations.js"
import { freshDatabase, withClient } from "./utils.js"

/** The functions 0027 gave the setting, as it named them. */
const GENERIC = ["book_stay", "hold_place", "hold_confirm", "bookings_take_nights_of_row", "holds_take_nights"] as const

describe("Migration 0027: the write path's generic plans", () => {
  it.scopedLive("the five write functions run with force_generic_plan; session_refusal is PL/pgSQL", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* runMigrations.pipe(Effect.provide(Database.client(db, { poolSize: 2 })))
      const rows = yield* withClient(db.name, (c) =>
        c.query<{ name: string; signature: string; config: Array<string> | null; language: string }>(
          `SELECT p.proname AS name, p.oid::regprocedure::text AS signature, p.proconfig AS config,
                  l.lanname AS language
           FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
           JOIN pg_language l ON l.oid = p.prolang
           WHERE n.nspname = 'public' AND p.proname = ANY($1)
           ORDER BY 1, 2`,
          [[...GENERIC, "session_refusal"]]
        )
      )
      for (const name of GENERIC) {
        const overloads = rows.rows.filter((r) => r.name === name)
        assert.lengthOf(overloads, 1, `${name}: one function of that name`)
        for (const { config, signature } of overloads) {
          // a redefinition (CREATE OR REPLACE FUNCTION) drops the SET: re-apply it (docs/data.md §1.12)
          assert.include(config ?? [], "plan_cache_mode=force_generic_plan", `${signature} lost its plan_cache_mode`)
        }
      }
      const refusal = rows.rows.filter((r) => r.name === "session_refusal")
      assert.deepStrictEqual(
        refusal.map((r) => [r.signature, r.language]),
        [["session_refusal(integer,text,bigint)", "plpgsql"]]
      )
    })
  )
})

/**
 * docs/decisions.md D16: the start-up promotion of `ADMIN_EMAIL` (and `npm run admin:create`, the same
 * `UsersRepo.ensureAdmin`) writes `user.role_changed` when it changes a role — once, with the previous role —
 * and nothing when the account is already an admin or is created as one.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { UsersRepo } from "../src/Users/UsersRepo.js"
import { newUser } from "./BookingsFixtures.js"
import { makeTestServer } from "./support.js"

const roleEvents = (userId: number) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ type: string; entity: string; data: Record<string, unknown> }>`
      SELECT type, entity, data FROM outbox_events WHERE entity = ${`user:${userId}`} ORDER BY id`
  ).pipe(Effect.orDie)

layer(makeTestServer(), { excludeTestServices: true, timeout: "60 seconds" })("ADMIN_EMAIL's promotion", (it) => {
  it.effect("promoting a user writes user.role_changed once; an admin already, or a new one, none", () =>
    Effect.gen(function* () {
      const users = yield* UsersRepo
      const user = yield* newUser()
      assert.isFalse(yield* users.ensureAdmin(user.email, "unused-hash"))
      assert.deepStrictEqual(yield* roleEvents(user.id), [
        {
          type: "user.role_changed",
          entity: `user:${user.id}`,
          data: { id: user.id, role: "admin", previous_role: "user" }
        }
      ])
      // a second start: already an admin, nothing changes
      assert.isFalse(yield* users.ensureAdmin(user.email, "unused-hash"))
      assert.strictEqual((yield* roleEvents(user.id)).length, 1)
      // created as an admin: no role changed
      const email = `new-admin-${user.id}@example.com`
      assert.isTrue(yield* users.ensureAdmin(email, "unused-hash"))
      const created = yield* users.findByEmail(email)
      assert.strictEqual(created._tag, "Some")
      if (created._tag === "Some") assert.deepStrictEqual(yield* roleEvents(created.value.id), [])
    })
  )
})

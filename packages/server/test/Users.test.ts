import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Forbidden, NotFound } from "@shum/domain/Errors"
import { Effect } from "effect"
import { client, clientWithToken, signIn, TestServer, uniqueEmail, detailOf, TEST_BCRYPT_COST } from "./support.js"

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("users (D1 rights)", (it) => {
  it.effect("GET /users is admin-only: anonymous 401, a user 403, an admin gets the list with the e-mail filter", () =>
    Effect.gen(function* () {
      const anonymous = yield* Effect.flip((yield* client).users.list({ urlParams: {} }))
      assert.strictEqual(anonymous._tag, "Unauthorized")
      const user = yield* signIn()
      const asUser = yield* Effect.flip((yield* clientWithToken(user.token)).users.list({ urlParams: {} }))
      assert.deepStrictEqual(asUser, new Forbidden({ detail: "Недостаточно прав" }))
      const admin = yield* signIn("admin")
      const found = yield* (yield* clientWithToken(admin.token)).users.list({ urlParams: { email: user.email } })
      assert.deepStrictEqual(
        found.map((u) => [u.id, u.email, u.role]),
        [[user.id, user.email, "user"]]
      )
      const page = yield* (yield* clientWithToken(admin.token)).users.list({ urlParams: { per_page: 1, page: 1 } })
      assert.strictEqual(page.length, 1)
    })
  )

  it.effect("a user reads and changes only their own account; an admin any", () =>
    Effect.gen(function* () {
      const alice = yield* signIn()
      const bob = yield* signIn()
      const asAlice = yield* clientWithToken(alice.token)
      assert.strictEqual((yield* asAlice.users.get({ path: { user_id: alice.id } })).email, alice.email)
      const other = yield* Effect.flip(asAlice.users.get({ path: { user_id: bob.id } }))
      assert.deepStrictEqual(other, new Forbidden({ detail: "Недостаточно прав" }))
      const otherDelete = yield* Effect.flip(asAlice.users.delete({ path: { user_id: bob.id } }))
      assert.strictEqual(otherDelete._tag, "Forbidden")
      const admin = yield* clientWithToken((yield* signIn("admin")).token)
      assert.strictEqual((yield* admin.users.get({ path: { user_id: bob.id } })).id, bob.id)
      const missing = yield* Effect.flip(admin.users.get({ path: { user_id: 999_999_999 } }))
      assert.deepStrictEqual(missing, new NotFound({ detail: "Пользователь не найден" }))
    })
  )

  it.effect(
    "PUT leaves null/absent fields unchanged, hashes a new password; e-mail taken → 409; missing → 404 E-10",
    () =>
      Effect.gen(function* () {
        const user = yield* signIn()
        const api = yield* clientWithToken(user.token)
        yield* api.users.patch({ path: { user_id: user.id }, payload: { first_name: "Иван", telegram_id: 42 } })
        yield* api.users.update({
          path: { user_id: user.id },
          payload: { email: user.email, first_name: null, password: "new-password-1" }
        })
        // D13: the password change ended the session that made it; signing in again opens a new one
        assert.strictEqual((yield* Effect.flip(api.users.get({ path: { user_id: user.id } })))._tag, "Unauthorized")
        const relogin = yield* (yield* client).auth.login({
          payload: { email: user.email, password: "new-password-1" }
        })
        assert.strictEqual(relogin.token_type, "bearer")
        const again = yield* clientWithToken(relogin.access_token)
        const me = yield* again.users.get({ path: { user_id: user.id } })
        assert.strictEqual(me.first_name, "Иван")
        assert.strictEqual(me.telegram_id, 42)
        const sql = yield* SqlClient.SqlClient
        const [row] = yield* sql<{ hashed_password: string }>`SELECT hashed_password FROM users WHERE id = ${user.id}`
        // bcrypt $2b$ at the harness's cost (the service's own 12: Passwords.test.ts)
        assert.isTrue(row!.hashed_password.startsWith(`$2b$${String(TEST_BCRYPT_COST).padStart(2, "0")}$`))
        const taken = (yield* signIn()).email
        const conflict = yield* Effect.flip(
          again.users.update({ path: { user_id: user.id }, payload: { email: taken } })
        )
        assert.strictEqual(detailOf(conflict), `Пользователь с email '${taken}' уже существует`)
        const admin = yield* clientWithToken((yield* signIn("admin")).token)
        const missing = yield* Effect.flip(
          admin.users.update({ path: { user_id: 999_999_998 }, payload: { email: uniqueEmail() } })
        )
        assert.deepStrictEqual(missing, new NotFound({ detail: "Пользователь с ID 999999998 не найден" }))
      })
  )

  it.effect(
    "PATCH writes what is present, null clears; {} is 200; a user may not change their role, an admin may",
    () =>
      Effect.gen(function* () {
        const user = yield* signIn()
        const api = yield* clientWithToken(user.token)
        yield* api.users.patch({ path: { user_id: user.id }, payload: { last_name: "Петров", pachca_id: 7 } })
        yield* api.users.patch({ path: { user_id: user.id }, payload: { pachca_id: null } })
        const me = yield* api.users.get({ path: { user_id: user.id } })
        assert.strictEqual(me.last_name, "Петров")
        assert.isNull(me.pachca_id)
        assert.strictEqual((yield* api.users.patch({ path: { user_id: user.id }, payload: {} })).status, "OK")
        const promote = yield* Effect.flip(api.users.patch({ path: { user_id: user.id }, payload: { role: "admin" } }))
        assert.deepStrictEqual(promote, new Forbidden({ detail: "Недостаточно прав" }))
        const admin = yield* clientWithToken((yield* signIn("admin")).token)
        yield* admin.users.patch({ path: { user_id: user.id }, payload: { role: "admin" } })
        // D13: the role change ended the user's sessions; the next sign-in carries the new role
        assert.strictEqual((yield* Effect.flip(api.users.get({ path: { user_id: user.id } })))._tag, "Unauthorized")
        const relogin = yield* (yield* client).auth.login({ payload: { email: user.email, password: user.password } })
        const promoted = yield* clientWithToken(relogin.access_token)
        assert.strictEqual((yield* promoted.users.get({ path: { user_id: user.id } })).role, "admin")
      })
  )

  it.effect("DELETE cascades bookings and refresh tokens; the deleted user's token then fails with E-05", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const api = yield* clientWithToken(user.token)
      assert.strictEqual((yield* api.users.delete({ path: { user_id: user.id } })).status, "OK")
      const sql = yield* SqlClient.SqlClient
      const [tokens] = yield* sql<{
        n: number
      }>`SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = ${user.id}`
      assert.strictEqual(tokens!.n, 0)
      const after = yield* Effect.flip(api.auth.me())
      assert.strictEqual(detailOf(after), "Пользователь не найден")
      const admin = yield* clientWithToken((yield* signIn("admin")).token)
      const again = yield* Effect.flip(admin.users.delete({ path: { user_id: user.id } }))
      assert.deepStrictEqual(again, new NotFound({ detail: "Пользователь не найден" }))
    })
  )
})

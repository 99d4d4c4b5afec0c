/**
 * The users service's rules (D1 rights, hashing, e-mail uniqueness) against an in-memory `UsersRepo`:
 * no database. `../Users.test.ts` proves the same through HTTP on PostgreSQL.
 */
import "./fakes/NoNetwork.js"
import { assert, describe, it } from "@effect/vitest"
import { Messages } from "@shum/domain/Messages"
import { UserPatch, UserUpdate } from "@shum/domain/Users"
import { Effect, Layer, Option, Schema } from "effect"
import { Passwords } from "../../src/Auth/Passwords.js"
import { UsersRepo } from "../../src/Users/UsersRepo.js"
import { UsersService } from "../../src/Users/UsersService.js"
import { caller, problem } from "./fakes/Callers.js"
import { unitEnvironment } from "./fakes/Environment.js"
import { IdentityMemory, IdentityTables } from "./fakes/UsersRepo.js"

const TestLayer = UsersService.DefaultWithoutDependencies.pipe(
  Layer.provideMerge(Layer.merge(IdentityMemory, unitEnvironment()))
)

const run = <A, E>(effect: Effect.Effect<A, E, UsersService | UsersRepo | IdentityTables | Passwords>) =>
  Effect.provide(effect, TestLayer)

const addUser = (email: string, role: "user" | "admin" = "user") =>
  Effect.flatMap(UsersRepo, (repo) => repo.insert({ email, hashed_password: "$2b$04$stored", role }))

const stored = (id: number) => Effect.map(IdentityTables, ({ users }) => users.get(id)!)

describe("UsersService (in-memory repository)", () => {
  it.effect("a user reads their own account, not another's (403); an admin reads any; a missing one is 404", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UsersService
        const alice = yield* addUser("alice@example.com")
        const bob = yield* addUser("bob@example.com")
        const own = yield* users.get(caller(alice.id), alice.id)
        assert.deepStrictEqual([own.id, own.email, "hashed_password" in own], [alice.id, alice.email, false])
        const other = yield* Effect.flip(users.get(caller(alice.id), bob.id))
        assert.deepStrictEqual(problem(other), { _tag: "Forbidden", detail: Messages.forbidden })
        assert.strictEqual((yield* users.get(caller(99, "admin"), bob.id)).email, bob.email)
        const missing = yield* Effect.flip(users.get(caller(99, "admin"), 12345))
        assert.deepStrictEqual(problem(missing), { _tag: "NotFound", detail: Messages.userNotFound })
      })
    )
  )

  it.effect("only an admin changes a role: a user sending one, even for themselves, is 403 and nothing changes", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UsersService
        const alice = yield* addUser("alice@example.com")
        const patch = yield* Effect.flip(users.patch(caller(alice.id), alice.id, new UserPatch({ role: "admin" })))
        assert.deepStrictEqual(problem(patch), { _tag: "Forbidden", detail: Messages.forbidden })
        const put = yield* Effect.flip(
          users.update(caller(alice.id), alice.id, new UserUpdate({ email: alice.email, role: "admin" }))
        )
        assert.strictEqual(put._tag, "Forbidden")
        assert.strictEqual((yield* stored(alice.id)).role, "user")
        // a user's PUT with `role: null` is no role change
        yield* users.update(caller(alice.id), alice.id, new UserUpdate({ email: alice.email, role: null }))
        yield* users.patch(caller(1000, "admin"), alice.id, new UserPatch({ role: "admin" }))
        assert.strictEqual((yield* stored(alice.id)).role, "admin")
      })
    )
  )

  it.effect("a user changes and deletes only their own account; an admin any", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UsersService
        const alice = yield* addUser("alice@example.com")
        const bob = yield* addUser("bob@example.com")
        const denied = yield* Effect.flip(users.patch(caller(alice.id), bob.id, new UserPatch({ first_name: "X" })))
        assert.strictEqual(denied._tag, "Forbidden")
        assert.strictEqual((yield* Effect.flip(users.remove(caller(alice.id), bob.id)))._tag, "Forbidden")
        assert.strictEqual((yield* stored(bob.id)).first_name, null)
        yield* users.patch(caller(alice.id), alice.id, new UserPatch({ first_name: "Алиса" }))
        assert.strictEqual((yield* stored(alice.id)).first_name, "Алиса")
        yield* users.remove(caller(1000, "admin"), bob.id)
        const gone = yield* Effect.flip(users.remove(caller(1000, "admin"), bob.id))
        assert.deepStrictEqual(problem(gone), { _tag: "NotFound", detail: Messages.userNotFound })
        yield* users.remove(caller(alice.id), alice.id)
        assert.strictEqual((yield* (yield* UsersRepo).findById(alice.id))._tag, "None")
      })
    )
  )

  it.effect("a new password is stored as a bcrypt hash of it; null and absent fields of a PUT are kept", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UsersService
        const passwords = yield* Passwords
        const alice = yield* addUser("alice@example.com")
        yield* users.patch(caller(alice.id), alice.id, new UserPatch({ first_name: "Алиса", telegram_id: 42 }))
        yield* users.update(
          caller(alice.id),
          alice.id,
          new UserUpdate({ email: alice.email, first_name: null, password: "new-password-1" })
        )
        const row = yield* stored(alice.id)
        assert.deepStrictEqual([row.first_name, row.telegram_id], ["Алиса", 42])
        assert.isTrue(row.hashed_password!.startsWith("$2b$"))
        assert.notInclude(row.hashed_password!, "new-password-1")
        assert.isTrue(yield* passwords.verify("new-password-1", row.hashed_password))
        // PATCH clears with null; `{}` writes nothing
        yield* users.patch(caller(alice.id), alice.id, new UserPatch({ telegram_id: null }))
        yield* users.patch(caller(alice.id), alice.id, new UserPatch({}))
        assert.deepStrictEqual((yield* stored(alice.id)).telegram_id, null)
      })
    )
  )

  it.effect("an e-mail held by another user is 409; keeping one's own is fine; a missing user is 404", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UsersService
        const alice = yield* addUser("alice@example.com")
        yield* addUser("bob@example.com")
        const taken = yield* Effect.flip(
          users.patch(caller(alice.id), alice.id, new UserPatch({ email: "bob@example.com" }))
        )
        assert.deepStrictEqual(problem(taken), { _tag: "Conflict", detail: Messages.userEmailTaken("bob@example.com") })
        yield* users.update(caller(alice.id), alice.id, new UserUpdate({ email: alice.email, last_name: "Ли" }))
        assert.strictEqual((yield* stored(alice.id)).last_name, "Ли")
        const missing = yield* Effect.flip(
          users.patch(caller(1000, "admin"), 777, new UserPatch({ first_name: "Никто" }))
        )
        assert.deepStrictEqual(problem(missing), {
          _tag: "NotFound",
          detail: Messages.entityNotFound("Пользователь", 777)
        })
      })
    )
  )

  it.effect("the list is by id, paged, and filtered by e-mail; rows never carry the hash", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UsersService
        for (const name of ["a", "b", "c"]) yield* addUser(`${name}@example.com`)
        const page = yield* users.list({ page: 2, per_page: 2 })
        assert.deepStrictEqual(
          page.map((u) => u.email),
          ["c@example.com"]
        )
        const found = yield* users.list({ email: "b@example.com" })
        assert.deepStrictEqual(
          found.map((u) => [u.id, "hashed_password" in u]),
          [[2, false]]
        )
      })
    )
  )

  it("a client-supplied hashed_password is refused by PUT's and PATCH's schemas, naming the field", () => {
    for (const schema of [UserUpdate, UserPatch] as ReadonlyArray<Schema.Schema.AnyNoContext>) {
      const decoded = Schema.decodeUnknownEither(schema)({ email: "a@example.com", hashed_password: "$2b$12$x" })
      assert.isTrue(decoded._tag === "Left")
      if (decoded._tag === "Left") assert.include(decoded.left.message, "`hashed_password` is not accepted")
    }
    assert.isTrue(Option.isSome(Schema.decodeUnknownOption(UserPatch)({ password: "long-enough-1" })))
  })
})

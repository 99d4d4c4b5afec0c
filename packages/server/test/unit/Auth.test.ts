/**
 * The auth service's rules (sign-in, refresh rotation and reuse detection, logout) against an in-memory
 * `UsersRepo` and `RefreshTokens`: no database, no Redis. The access tokens are real JWTs, checked here with
 * `jose`. `../Auth.test.ts` and `../Identity.test.ts` prove the same through HTTP on PostgreSQL.
 */
import "./fakes/NoNetwork.js"
import { assert, describe, it } from "@effect/vitest"
import { Messages } from "@shum/domain/Messages"
import { UserLogin, UserRegister } from "@shum/domain/Users"
import { Clock, Effect, Layer, Option, TestClock } from "effect"
import { jwtVerify } from "jose"
import { Passwords } from "../../src/Auth/Passwords.js"
import { AuthService } from "../../src/Auth/AuthService.js"
import { Tokens } from "../../src/Auth/Tokens.js"
import { UsersRepo } from "../../src/Users/UsersRepo.js"
import { caller, problem } from "./fakes/Callers.js"
import { UNIT_SECRET, unitEnvironment } from "./fakes/Environment.js"
import { IdentityMemory, IdentityTables } from "./fakes/UsersRepo.js"

const TestLayer = AuthService.DefaultWithoutDependencies.pipe(
  Layer.provideMerge(Layer.merge(IdentityMemory, Tokens.Default)),
  Layer.provideMerge(unitEnvironment({ JWT_ACCESS_TOKEN_EXPIRE_MINUTES: "15" }))
)

const run = <A, E>(effect: Effect.Effect<A, E, AuthService | UsersRepo | IdentityTables | Tokens | Passwords>) =>
  Effect.provide(effect, TestLayer)

const PASSWORD = "correct-horse-1"

const registered = (email = "alice@example.com") =>
  Effect.flatMap(AuthService, (auth) => auth.register(new UserRegister({ email, password: PASSWORD })))

const login = (email: string, password = PASSWORD) =>
  Effect.flatMap(AuthService, (auth) => auth.login(new UserLogin({ email, password })))

describe("AuthService (in-memory repositories)", () => {
  it.effect("register stores a bcrypt hash, never the password; the same e-mail again is 409", () =>
    run(
      Effect.gen(function* () {
        const user = yield* registered()
        const row = Option.getOrThrow(yield* (yield* UsersRepo).findById(user.id))
        assert.isTrue(row.hashed_password!.startsWith("$2b$"))
        assert.isTrue(yield* (yield* Passwords).verify(PASSWORD, row.hashed_password))
        const again = yield* Effect.flip(registered())
        assert.deepStrictEqual(problem(again), {
          _tag: "Conflict",
          detail: Messages.userEmailTaken("alice@example.com")
        })
      })
    )
  )

  it.effect("login: an unknown e-mail and a wrong password are 401 with their own texts", () =>
    run(
      Effect.gen(function* () {
        yield* registered()
        const unknown = yield* Effect.flip(login("nobody@example.com"))
        assert.deepStrictEqual(problem(unknown), { _tag: "InvalidCredentials", detail: Messages.emailNotFound })
        const wrong = yield* Effect.flip(login("alice@example.com", "wrong-password-1"))
        assert.deepStrictEqual(problem(wrong), { _tag: "InvalidCredentials", detail: Messages.wrongPassword })
        // a user without a stored hash (the original allowed it) cannot sign in either
        yield* (yield* UsersRepo).insert({ email: "nohash@example.com", hashed_password: null })
        const noHash = yield* Effect.flip(login("nohash@example.com"))
        assert.strictEqual(problem(noHash).detail, Messages.wrongPassword)
      })
    )
  )

  it.effect("login issues an access JWT that jose verifies with the secret: sub, email, jti, 15 minutes", () =>
    run(
      Effect.gen(function* () {
        const user = yield* registered()
        const token = yield* login(user.email)
        assert.strictEqual(token.token_type, "bearer")
        const now = yield* Clock.currentTimeMillis
        const { payload, protectedHeader } = yield* Effect.promise(() =>
          jwtVerify(token.access_token, new TextEncoder().encode(UNIT_SECRET), {
            algorithms: ["HS256"],
            currentDate: new Date(now)
          })
        )
        assert.strictEqual(protectedHeader.alg, "HS256")
        assert.deepStrictEqual([payload.sub, payload["email"]], [String(user.id), user.email])
        assert.strictEqual(payload.exp! - payload.iat!, 15 * 60)
        assert.match(payload.jti!, /^[0-9a-f-]{36}$/)
        const claims = yield* (yield* Tokens).verifyAccess(token.access_token)
        assert.deepStrictEqual([claims.userId, claims.jti], [user.id, payload.jti])
        // a token signed with another secret is refused
        const forged = yield* Effect.either((yield* Tokens).verifyAccess(token.access_token.slice(0, -4) + "AAAA"))
        assert.strictEqual(forged._tag, "Left")
        // and it expires after its 15 minutes
        yield* TestClock.adjust("15 minutes")
        const expired = yield* Effect.flip((yield* Tokens).verifyAccess(token.access_token))
        assert.strictEqual(expired.detail, Messages.tokenInvalid)
      })
    )
  )

  it.effect("refresh rotates: the new pair works, the old refresh token does not", () =>
    run(
      Effect.gen(function* () {
        const auth = yield* AuthService
        const user = yield* registered()
        const first = yield* login(user.email)
        const second = yield* auth.refresh(first.refresh_token)
        assert.notStrictEqual(second.refresh_token, first.refresh_token)
        assert.notStrictEqual(second.access_token, first.access_token)
        assert.strictEqual((yield* (yield* Tokens).verifyAccess(second.access_token)).userId, user.id)
        const third = yield* auth.refresh(second.refresh_token)
        assert.isString(third.refresh_token)
        const garbage = yield* Effect.flip(auth.refresh("not-a-token"))
        assert.deepStrictEqual(problem(garbage), { _tag: "InvalidCredentials", detail: Messages.refreshTokenInvalid })
      })
    )
  )

  it.effect("reuse of a rotated refresh token is refused and ends every session of that user, not others'", () =>
    run(
      Effect.gen(function* () {
        const auth = yield* AuthService
        const alice = yield* registered()
        const bob = yield* registered("bob@example.com")
        const stolen = (yield* login(alice.email)).refresh_token
        const otherDevice = (yield* login(alice.email)).refresh_token
        const rotated = yield* auth.refresh(stolen)
        const bobs = (yield* login(bob.email)).refresh_token

        const reuse = yield* Effect.flip(auth.refresh(stolen))
        assert.deepStrictEqual(problem(reuse), { _tag: "InvalidCredentials", detail: Messages.refreshTokenInvalid })
        for (const token of [rotated.refresh_token, otherDevice]) {
          assert.strictEqual((yield* Effect.flip(auth.refresh(token)))._tag, "InvalidCredentials")
        }
        assert.isString((yield* auth.refresh(bobs)).access_token)
      })
    )
  )

  it.effect("refresh for a user deleted since is 401: their refresh tokens went with them", () =>
    run(
      Effect.gen(function* () {
        const user = yield* registered()
        const token = yield* login(user.email)
        yield* (yield* UsersRepo).remove(user.id)
        const refused = yield* Effect.flip((yield* AuthService).refresh(token.refresh_token))
        assert.deepStrictEqual(problem(refused), { _tag: "InvalidCredentials", detail: Messages.refreshTokenInvalid })
      })
    )
  )

  it.effect("logout revokes every refresh token of the user and the presented access token's jti", () =>
    run(
      Effect.gen(function* () {
        const auth = yield* AuthService
        const users = yield* UsersRepo
        const user = yield* registered()
        const a = yield* login(user.email)
        const b = yield* login(user.email)
        const claims = yield* (yield* Tokens).verifyAccess(a.access_token)
        yield* auth.logout({ ...caller(user.id), jti: claims.jti, expiresAt: claims.expiresAt })
        const session = (jti: string) =>
          Effect.map(users.findSession(user.id, jti), (found) => Option.getOrThrow(found).revoked)
        assert.isTrue(yield* session(claims.jti))
        assert.isFalse(yield* session((yield* (yield* Tokens).verifyAccess(b.access_token)).jti))
        for (const token of [a.refresh_token, b.refresh_token]) {
          assert.strictEqual((yield* Effect.flip(auth.refresh(token)))._tag, "InvalidCredentials")
        }
        // signing in again works
        assert.isString((yield* login(user.email)).refresh_token)
      })
    )
  )

  it.effect("a logout the database cannot record is 503, never a false 200, and revokes nothing", () =>
    run(
      Effect.gen(function* () {
        const auth = yield* AuthService
        const tables = yield* IdentityTables
        const user = yield* registered()
        const token = yield* login(user.email)
        tables.databaseDown = true
        const refused = yield* Effect.flip(auth.logout(caller(user.id)))
        assert.deepStrictEqual(problem(refused), { _tag: "ServiceUnavailable", detail: Messages.databaseUnavailable })
        tables.databaseDown = false
        assert.isString((yield* auth.refresh(token.refresh_token)).access_token)
      })
    )
  )

  it.effect("tokens carry the user's token version: issued after a password change, they name the new one", () =>
    run(
      Effect.gen(function* () {
        const user = yield* registered()
        const before = yield* (yield* Tokens).verifyAccess((yield* login(user.email)).access_token)
        yield* (yield* UsersRepo).update(user.id, { hashed_password: yield* (yield* Passwords).hash("another-pass-1") })
        const after = yield* (yield* Tokens).verifyAccess((yield* login(user.email, "another-pass-1")).access_token)
        assert.deepStrictEqual([before.version, after.version], [0, 1])
      })
    )
  )

  it.effect("me answers the stored user without its hash; a deleted user is 401", () =>
    run(
      Effect.gen(function* () {
        const auth = yield* AuthService
        const user = yield* registered()
        const me = yield* auth.me(caller(user.id))
        assert.deepStrictEqual([me.email, "hashed_password" in me], [user.email, false])
        yield* (yield* UsersRepo).remove(user.id)
        const gone = yield* Effect.flip(auth.me(caller(user.id)))
        assert.deepStrictEqual(problem(gone), { _tag: "Unauthorized", detail: Messages.userNotFound })
      })
    )
  )
})

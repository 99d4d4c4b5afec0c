/**
 * Registration, sign-in, refresh and sign-out (docs/api.md §7, D3). E-mails are matched without regard to letter
 * case (docs/decisions.md D12, `UsersRepo.findByEmail`); sessions are ended durably, in PostgreSQL (D13).
 */
import { Conflict, InvalidCredentials, ServiceUnavailable, Unauthorized } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import type { AuthenticatedUser } from "@shum/domain/Security"
import { Token, type UserLogin, type UserRegister } from "@shum/domain/Users"
import { AppConfig } from "@shum/infra/Config"
import { Effect, Option } from "effect"
import { Metrics } from "../Metrics.js"
import { toUser, UsersRepo, type UserRow } from "../Users/UsersRepo.js"
import { Passwords } from "./Passwords.js"
import { RefreshTokens } from "./RefreshTokens.js"
import { Tokens } from "./Tokens.js"

export class AuthService extends Effect.Service<AuthService>()("server/AuthService", {
  effect: Effect.gen(function* () {
    const { jwt } = yield* AppConfig
    const users = yield* UsersRepo
    const passwords = yield* Passwords
    const tokens = yield* Tokens
    const refreshTokens = yield* RefreshTokens
    const { counters } = yield* Metrics

    const tokensFor = (user: UserRow) =>
      Effect.gen(function* () {
        const access = yield* tokens.issueAccess(user)
        const refresh = yield* refreshTokens.issue(user, jwt.refreshTokenTtl)
        return new Token({ access_token: access.token, refresh_token: refresh, token_type: "bearer" })
      })

    const register = Effect.fn("Auth.register")(function* (input: UserRegister) {
      // also an address that differs from a stored one only in letter case (D12)
      if (Option.isSome(yield* users.findByEmail(input.email))) {
        return yield* new Conflict({ detail: Messages.userEmailTaken(input.email) })
      }
      const row = yield* users.insert({
        email: input.email,
        hashed_password: yield* passwords.hash(input.password),
        first_name: input.first_name ?? null,
        last_name: input.last_name ?? null,
        telegram_id: input.telegram_id ?? null,
        pachca_id: input.pachca_id ?? null
      })
      counters.authRegistrations.inc()
      return toUser(row)
    })

    const login = Effect.fn("Auth.login")(function* (input: UserLogin) {
      const user = yield* users.findByEmail(input.email)
      if (Option.isNone(user)) {
        counters.authLogins.inc({ status: "failure" })
        counters.authFailedAttempts.inc({ reason: "user_not_found" })
        return yield* new InvalidCredentials({ detail: Messages.emailNotFound })
      }
      if (!(yield* passwords.verify(input.password, user.value.hashed_password))) {
        counters.authLogins.inc({ status: "failure" })
        counters.authFailedAttempts.inc({ reason: "invalid_password" })
        return yield* new InvalidCredentials({ detail: Messages.wrongPassword })
      }
      counters.authLogins.inc({ status: "success" })
      return yield* tokensFor(user.value)
    })

    /**
     * Rotation (D3) in one transaction under the user's row lock, which logout takes too: a refresh racing a
     * logout either finds its token revoked (401) or issues a refresh token the logout then revokes. The
     * access token carries the token version read under that lock, so a credential change committed just
     * after still ends it.
     */
    const refresh = Effect.fn("Auth.refresh")(function* (token: string) {
      const result = yield* refreshTokens.rotate(token, jwt.refreshTokenTtl)
      if (result._tag !== "Rotated") {
        counters.authRefreshTokens.inc({ status: "failure" })
        if (result._tag === "Reused")
          yield* Effect.logWarning("refresh token reused: all of the user's sessions revoked").pipe(
            Effect.annotateLogs("user_id", result.userId)
          )
        return yield* new InvalidCredentials({ detail: Messages.refreshTokenInvalid })
      }
      counters.authRefreshTokens.inc({ status: "success" })
      const access = yield* tokens.issueAccess(result.user)
      return new Token({ access_token: access.token, refresh_token: result.refreshToken, token_type: "bearer" })
    })

    /**
     * Revokes every refresh token of the user and the presented access token (D3), durably (D13): when
     * PostgreSQL cannot record it, a 503 (with `Retry-After`), never a 200 for a logout that did not happen.
     */
    const logout = Effect.fn("Auth.logout")(function* (user: AuthenticatedUser) {
      yield* refreshTokens
        .endSession(user.id, user.jti, user.expiresAt)
        .pipe(
          Effect.catchAll((error) =>
            Effect.logWarning("logout not recorded: the database did not take it", error).pipe(
              Effect.zipRight(new ServiceUnavailable({ detail: Messages.databaseUnavailable }))
            )
          )
        )
    })

    const me = (user: AuthenticatedUser) =>
      Effect.flatMap(users.findById(user.id), (row) =>
        Option.match(row, {
          onNone: () => Effect.fail(new Unauthorized({ detail: Messages.userNotFound })),
          onSome: (row) => Effect.succeed(toUser(row))
        })
      )

    return {
      register,
      login,
      refresh,
      logout,
      me,
      accessTtlSeconds: tokens.accessTtlSeconds,
      cookieSecure: jwt.cookieSecure
    } as const
  }),
  dependencies: [UsersRepo.Default, Passwords.Default, Tokens.Default, RefreshTokens.Default]
}) {}

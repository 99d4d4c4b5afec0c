/**
 * The identity tables in memory — `users`, `refresh_tokens`, `revoked_access_tokens` — behind the real
 * `UsersRepo` and `RefreshTokens` Tags: the rows the real tables would hold, e-mails unique without regard to
 * case (D12), a password or role change bumping the user's token version (D13). Only what the services read
 * and write; the SQL itself (locks, transactions, the case-twin rules) is proved by the database tests.
 */
import { SqlError } from "@effect/sql/SqlError"
import { Clock, Context, Duration, Effect, Layer, Option } from "effect"
import { RefreshTokens, type RotateResult } from "../../../src/Auth/RefreshTokens.js"
import { hashRefreshToken, newRefreshToken } from "../../../src/Auth/Tokens.js"
import { type UserFields, UsersRepo, type UserRow } from "../../../src/Users/UsersRepo.js"
import { partial } from "./Partial.js"

interface RefreshRow {
  readonly userId: number
  readonly hash: string
  readonly expiresAt: number
  readonly version: number
  revoked: boolean
}

export interface IdentityState {
  readonly users: Map<number, UserRow>
  readonly refreshTokens: Array<RefreshRow>
  /** jti → expiry, epoch seconds */
  readonly revokedJtis: Map<string, number>
  /** When set, writes of sessions fail as a lost database would (`SqlError`). */
  databaseDown: boolean
}

export class IdentityTables extends Context.Tag("test/IdentityTables")<IdentityTables, IdentityState>() {}

const defined = (fields: UserFields): Partial<UserRow> =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<UserRow>

const UsersRepoMemory = Layer.effect(
  UsersRepo,
  Effect.map(IdentityTables, (state) => {
    const { users, refreshTokens, revokedJtis } = state
    let nextId = 1
    const rows = () => [...users.values()]
    const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()
    const taken = (email: string, except?: number) =>
      rows().some((row) => sameAddress(row.email, email) && row.id !== except)
    return partial<UsersRepo>("UsersRepo", {
      findById: (id) => Effect.sync(() => Option.fromNullable(users.get(id))),
      findByEmail: (email) =>
        Effect.sync(() =>
          Option.fromNullable(
            rows().find((row) => row.email === email) ?? rows().find((row) => sameAddress(row.email, email))
          )
        ),
      findSession: (id, jti) =>
        Effect.sync(() =>
          Option.map(Option.fromNullable(users.get(id)), (user) => ({ user, revoked: revokedJtis.has(jti) }))
        ),
      list: ({ email, limit, offset }) =>
        Effect.sync(() =>
          rows()
            .filter((row) => email === undefined || row.email === email)
            .sort((a, b) => a.id - b.id)
            .slice(offset, offset + limit)
        ),
      insert: (fields) =>
        Effect.suspend(() => {
          if (taken(fields.email)) return Effect.dieMessage(`duplicate e-mail ${fields.email}`)
          const row: UserRow = {
            id: nextId++,
            hashed_password: null,
            first_name: null,
            last_name: null,
            telegram_id: null,
            pachca_id: null,
            role: "user",
            token_version: 0,
            ...defined(fields),
            email: fields.email
          }
          users.set(row.id, row)
          return Effect.succeed(row)
        }),
      update: (id, fields) =>
        Effect.suspend(() => {
          const current = users.get(id)
          if (current === undefined) return Effect.succeed(Option.none())
          if (fields.email !== undefined && taken(fields.email, id)) {
            return Effect.dieMessage(`duplicate e-mail ${fields.email}`)
          }
          const bump =
            fields.hashed_password !== undefined || (fields.role !== undefined && fields.role !== current.role)
          const row: UserRow = { ...current, ...defined(fields), token_version: current.token_version + (bump ? 1 : 0) }
          users.set(id, row)
          refreshTokens
            .filter((token) => token.userId === id && token.version !== row.token_version)
            .forEach((token) => (token.revoked = true))
          return Effect.succeed(Option.some(row))
        }),
      // the refresh tokens go with the user (ON DELETE CASCADE)
      remove: (id) =>
        Effect.sync(() => {
          for (let i = refreshTokens.length - 1; i >= 0; i--)
            if (refreshTokens[i]!.userId === id) refreshTokens.splice(i, 1)
          return users.delete(id)
        })
    })
  })
)

const RefreshTokensMemory = Layer.effect(
  RefreshTokens,
  Effect.map(IdentityTables, (state) => {
    const { users, refreshTokens, revokedJtis } = state
    const revokeAll = (userId: number) =>
      refreshTokens.filter((row) => row.userId === userId).forEach((row) => (row.revoked = true))
    const issue = (user: { readonly id: number; readonly token_version: number }, ttl: Duration.Duration) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const token = newRefreshToken()
        refreshTokens.push({
          userId: user.id,
          hash: hashRefreshToken(token),
          expiresAt: now + Duration.toMillis(ttl),
          version: user.token_version,
          revoked: false
        })
        return token
      })
    // each call runs to its end without yielding to another fiber, as the user's row lock makes the real one do
    return partial<RefreshTokens>("RefreshTokens", {
      issue,
      rotate: (token, ttl) =>
        Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<RotateResult> => {
          const row = refreshTokens.find((row) => row.hash === hashRefreshToken(token))
          const user = row === undefined ? undefined : users.get(row.userId)
          if (row === undefined || user === undefined || row.version !== user.token_version)
            return Effect.succeed({ _tag: "Invalid" })
          if (row.revoked) {
            revokeAll(row.userId)
            return Effect.succeed({ _tag: "Reused", userId: row.userId })
          }
          if (row.expiresAt <= now) return Effect.succeed({ _tag: "Invalid" })
          row.revoked = true
          return Effect.map(issue(user, ttl), (refreshToken) => ({ _tag: "Rotated", user, refreshToken }))
        }),
      endSession: (userId, jti, expiresAt) =>
        Effect.suspend(() => {
          if (state.databaseDown) return Effect.fail(new SqlError({ message: "connection lost (fake)" }))
          revokeAll(userId)
          if (jti !== "") revokedJtis.set(jti, expiresAt)
          return Effect.void
        })
    })
  })
)

/** `UsersRepo` and `RefreshTokens` over the same in-memory tables (exposed for a test's own look). */
export const IdentityMemory = Layer.merge(UsersRepoMemory, RefreshTokensMemory).pipe(
  Layer.provideMerge(
    Layer.sync(IdentityTables, () => ({
      users: new Map(),
      refreshTokens: [],
      revokedJtis: new Map(),
      databaseDown: false
    }))
  )
)

/**
 * Refresh tokens (docs/api.md §4.3, D3): one row per login/refresh, stored as SHA-256 only, rotated on
 * every use. Presenting a token that was already rotated means it leaked or was replayed: every
 * refresh token of that user is revoked. Rotation and logout take the user's row lock first, so they never
 * interleave (docs/decisions.md D3): a logout always ends the token a concurrent refresh issues.
 *
 * Each row keeps the user's token version it was issued under: after a password or role change (which
 * bumps the version, docs/decisions.md D13) an older token is refused, even one written concurrently with
 * the change. Logout's revocations live here too, in PostgreSQL, so they never depend on Redis (D13).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Clock, Duration, Effect } from "effect"
import { hashRefreshToken, newRefreshToken } from "./Tokens.js"

/** The user a rotation issues for, as read under their row lock. */
export interface SessionUser {
  readonly id: number
  readonly email: string
  readonly token_version: number
}

export type RotateResult =
  | { readonly _tag: "Rotated"; readonly user: SessionUser; readonly refreshToken: string }
  | { readonly _tag: "Invalid" }
  | { readonly _tag: "Reused"; readonly userId: number }

/** Expired revocations removed by each logout, at most (the rest by the next ones). */
const PURGE_BATCH = 100

export class RefreshTokens extends Effect.Service<RefreshTokens>()("server/RefreshTokens", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /** A new token for the user under their current token version; only its hash is written. */
    const issue = (user: { readonly id: number; readonly token_version: number }, ttl: Duration.Duration) =>
      Effect.gen(function* () {
        const token = newRefreshToken()
        const now = yield* Clock.currentTimeMillis
        yield* sql`INSERT INTO refresh_tokens ${sql.insert({
          user_id: user.id,
          token_hash: hashRefreshToken(token),
          created_at: new Date(now),
          expires_at: new Date(now + Duration.toMillis(ttl)),
          is_revoked: false,
          token_version: user.token_version
        })}`
        return token
      })

    /**
     * Takes the user's row lock (docs/decisions.md D3, D13): rotation, logout and a credential change of
     * one user run one after the other, so a logout racing a refresh either comes first (the refresh then
     * finds its token revoked) or waits for the refresh and revokes the token it issued too. `FOR NO KEY
     * UPDATE` is the lock an UPDATE of the row takes, and it leaves the foreign keys that point at the user
     * (bookings, refresh tokens being inserted) free. It must be a statement of its own: the statements
     * after it read a snapshot taken once the lock is held, so they see what the other side committed.
     */
    const lockUser = (userId: number) =>
      sql<SessionUser>`SELECT id, email, token_version FROM users WHERE id = ${userId} FOR NO KEY UPDATE`

    /**
     * Rotation, in one transaction under the user's lock: the presented token is marked used and its
     * successor written under the token version read under that lock. Presenting a used token revokes every
     * token of the user (reuse); a token from before a credential change is simply invalid (checked first:
     * presenting it is no theft signal, and must not end the sessions opened since).
     */
    const rotate = (token: string, ttl: Duration.Duration) =>
      Effect.gen(function* () {
        const hash = hashRefreshToken(token)
        const [owner] = yield* sql<{ user_id: number }>`SELECT user_id FROM refresh_tokens WHERE token_hash = ${hash}`
        if (owner === undefined) return { _tag: "Invalid" } as RotateResult
        const [user] = yield* lockUser(owner.user_id)
        const [row] = yield* sql<{ id: number; is_revoked: boolean; expired: boolean; token_version: number }>`
          SELECT id, is_revoked, expires_at <= now() AS expired, token_version
          FROM refresh_tokens WHERE token_hash = ${hash}`
        if (user === undefined || row === undefined || row.token_version !== user.token_version)
          return { _tag: "Invalid" } as RotateResult
        if (row.is_revoked) {
          yield* sql`UPDATE refresh_tokens SET is_revoked = true WHERE user_id = ${user.id} AND NOT is_revoked`
          return { _tag: "Reused", userId: user.id } as RotateResult
        }
        if (row.expired) return { _tag: "Invalid" } as RotateResult
        yield* sql`UPDATE refresh_tokens SET is_revoked = true WHERE id = ${row.id}`
        const refreshToken = yield* issue(user, ttl)
        return { _tag: "Rotated", user, refreshToken } as RotateResult
      }).pipe(sql.withTransaction, Effect.withSpan("RefreshTokens.rotate"))

    /**
     * Logout (D3, D13), under the user's lock: every refresh token of the user and the access token's `jti` (until `expiresAt`,
     * epoch seconds) revoked in one transaction, and a few expired revocations purged. Fails when the
     * database cannot record it: the caller must not claim a logout that did not happen.
     */
    const endSession = (userId: number, jti: string, expiresAt: number) =>
      Effect.gen(function* () {
        // first, alone: a refresh that holds the lock has committed its new token before the update's snapshot
        yield* lockUser(userId)
        yield* sql`UPDATE refresh_tokens SET is_revoked = true WHERE user_id = ${userId} AND NOT is_revoked`
        if (jti === "") return
        yield* sql`
          WITH purged AS (
            DELETE FROM revoked_access_tokens WHERE jti IN (
              SELECT jti FROM revoked_access_tokens WHERE expires_at < now()
              LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED)
          )
          INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (${jti}, to_timestamp(${expiresAt}))
          ON CONFLICT (jti) DO NOTHING`
      }).pipe(sql.withTransaction, Effect.withSpan("RefreshTokens.endSession"))

    return {
      issue: (user: { readonly id: number; readonly token_version: number }, ttl: Duration.Duration) =>
        issue(user, ttl).pipe(Effect.orDie),
      rotate: (token: string, ttl: Duration.Duration) => rotate(token, ttl).pipe(Effect.orDie),
      endSession,
      withTransaction: sql.withTransaction
    } as const
  })
}) {}

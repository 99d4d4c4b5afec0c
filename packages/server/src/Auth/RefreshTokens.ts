/**
 * Refresh tokens (docs/api.md §4.3, D3): one row per login/refresh, stored as SHA-256 only, rotated on
 * every use. Presenting a token that was already rotated means it leaked or was replayed: every
 * refresh token of that user is revoked.
 *
 * Each row keeps the user's token version it was issued under: after a password or role change (which
 * bumps the version, docs/decisions.md D13) an older token is refused, even one written concurrently with
 * the change. Logout's revocations live here too, in PostgreSQL, so they never depend on Redis (D13).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Clock, Duration, Effect } from "effect"
import { hashRefreshToken, newRefreshToken } from "./Tokens.js"

export type RotateResult =
  | { readonly _tag: "Rotated"; readonly userId: number }
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
     * Marks the presented token used. The row lock makes two concurrent uses of one token a reuse. A token
     * from before a credential change is simply invalid (checked first: presenting it is no theft signal,
     * and must not end the sessions opened since).
     */
    const consume = (token: string) =>
      Effect.gen(function* () {
        const rows = yield* sql<{
          id: number
          user_id: number
          is_revoked: boolean
          expired: boolean
          stale: boolean
        }>`
          SELECT t.id, t.user_id, t.is_revoked, t.expires_at <= now() AS expired,
                 t.token_version <> u.token_version AS stale
          FROM refresh_tokens t JOIN users u ON u.id = t.user_id
          WHERE t.token_hash = ${hashRefreshToken(token)} FOR UPDATE OF t`
        const row = rows[0]
        if (row === undefined || row.stale) return { _tag: "Invalid" } as RotateResult
        if (row.is_revoked) {
          yield* sql`UPDATE refresh_tokens SET is_revoked = true WHERE user_id = ${row.user_id} AND NOT is_revoked`
          return { _tag: "Reused", userId: row.user_id } as RotateResult
        }
        if (row.expired) return { _tag: "Invalid" } as RotateResult
        yield* sql`UPDATE refresh_tokens SET is_revoked = true WHERE id = ${row.id}`
        return { _tag: "Rotated", userId: row.user_id } as RotateResult
      }).pipe(sql.withTransaction)

    /**
     * Logout (D3, D13): every refresh token of the user and the access token's `jti` (until `expiresAt`,
     * epoch seconds) revoked in one transaction, and a few expired revocations purged. Fails when the
     * database cannot record it: the caller must not claim a logout that did not happen.
     */
    const endSession = (userId: number, jti: string, expiresAt: number) =>
      Effect.gen(function* () {
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
      consume: (token: string) => consume(token).pipe(Effect.orDie),
      endSession,
      withTransaction: sql.withTransaction
    } as const
  })
}) {}

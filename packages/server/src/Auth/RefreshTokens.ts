/**
 * Refresh tokens (docs/api.md §4.3, D3): one row per login/refresh, stored as SHA-256 only, rotated on
 * every use. Presenting a token that was already rotated means it leaked or was replayed: every
 * refresh token of that user is revoked.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Clock, Duration, Effect } from "effect"
import { hashRefreshToken, newRefreshToken } from "./Tokens.js"

export type RotateResult =
  | { readonly _tag: "Rotated"; readonly userId: number }
  | { readonly _tag: "Invalid" }
  | { readonly _tag: "Reused"; readonly userId: number }

export class RefreshTokens extends Effect.Service<RefreshTokens>()("server/RefreshTokens", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /** A new token for the user; only its hash is written. */
    const issue = (userId: number, ttl: Duration.Duration) =>
      Effect.gen(function* () {
        const token = newRefreshToken()
        const now = yield* Clock.currentTimeMillis
        yield* sql`INSERT INTO refresh_tokens ${sql.insert({
          user_id: userId,
          token_hash: hashRefreshToken(token),
          created_at: new Date(now),
          expires_at: new Date(now + Duration.toMillis(ttl)),
          is_revoked: false
        })}`
        return token
      })

    /** Marks the presented token used. The row lock makes two concurrent uses of one token a reuse. */
    const consume = (token: string) =>
      Effect.gen(function* () {
        const rows = yield* sql<{ id: number; user_id: number; is_revoked: boolean; expired: boolean }>`
          SELECT id, user_id, is_revoked, expires_at <= now() AS expired
          FROM refresh_tokens WHERE token_hash = ${hashRefreshToken(token)} FOR UPDATE`
        const row = rows[0]
        if (row === undefined) return { _tag: "Invalid" } as RotateResult
        if (row.is_revoked) {
          yield* sql`UPDATE refresh_tokens SET is_revoked = true WHERE user_id = ${row.user_id} AND NOT is_revoked`
          return { _tag: "Reused", userId: row.user_id } as RotateResult
        }
        if (row.expired) return { _tag: "Invalid" } as RotateResult
        yield* sql`UPDATE refresh_tokens SET is_revoked = true WHERE id = ${row.id}`
        return { _tag: "Rotated", userId: row.user_id } as RotateResult
      }).pipe(sql.withTransaction)

    const revokeAll = (userId: number) =>
      sql`UPDATE refresh_tokens SET is_revoked = true WHERE user_id = ${userId} AND NOT is_revoked`.pipe(Effect.asVoid)

    return {
      issue: (userId: number, ttl: Duration.Duration) => issue(userId, ttl).pipe(Effect.orDie),
      consume: (token: string) => consume(token).pipe(Effect.orDie),
      revokeAll: (userId: number) => revokeAll(userId).pipe(Effect.orDie),
      withTransaction: sql.withTransaction
    } as const
  })
}) {}

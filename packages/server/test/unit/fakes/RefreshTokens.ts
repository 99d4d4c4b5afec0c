/**
 * `RefreshTokens` over an array: rows keyed by the token's SHA-256 as in the table, rotated on use, and a
 * second use of a rotated token revoking every token of its user (D3). The SQL (row locks, the transaction)
 * is proved by `../Auth.test.ts` on PostgreSQL.
 */
import { Clock, Duration, Effect, Layer } from "effect"
import { RefreshTokens, type RotateResult } from "../../../src/Auth/RefreshTokens.js"
import { hashRefreshToken, newRefreshToken } from "../../../src/Auth/Tokens.js"
import { partial } from "./Partial.js"

interface Row {
  readonly userId: number
  readonly hash: string
  readonly expiresAt: number
  revoked: boolean
}

export const RefreshTokensMemory = Layer.sync(RefreshTokens, () => {
  const rows: Array<Row> = []
  const revokeAll = (userId: number) =>
    Effect.sync(() => rows.filter((row) => row.userId === userId).forEach((row) => (row.revoked = true)))
  return partial<RefreshTokens>("RefreshTokens", {
    issue: (userId, ttl) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const token = newRefreshToken()
        rows.push({ userId, hash: hashRefreshToken(token), expiresAt: now + Duration.toMillis(ttl), revoked: false })
        return token
      }),
    consume: (token) =>
      Effect.gen(function* () {
        const row = rows.find((row) => row.hash === hashRefreshToken(token))
        if (row === undefined) return { _tag: "Invalid" } satisfies RotateResult
        if (row.revoked) {
          yield* revokeAll(row.userId)
          return { _tag: "Reused", userId: row.userId } satisfies RotateResult
        }
        if (row.expiresAt <= (yield* Clock.currentTimeMillis)) return { _tag: "Invalid" } satisfies RotateResult
        row.revoked = true
        return { _tag: "Rotated", userId: row.userId } satisfies RotateResult
      }),
    revokeAll
  })
})

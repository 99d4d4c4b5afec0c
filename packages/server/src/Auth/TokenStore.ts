/**
 * Revoked access tokens (D3): logout revokes the presented token's `jti` until the token would have
 * expired anyway. Redis in production (shared by every replica); an in-memory Layer for tests and the
 * embedded default.
 */
import { Redis } from "@shum/infra/Redis"
import { Clock, Effect, Layer, Ref } from "effect"

export class TokenStore extends Effect.Tag("server/TokenStore")<
  TokenStore,
  {
    /** Remember `jti` as revoked until `expiresAt` (epoch seconds). */
    readonly revoke: (jti: string, expiresAt: number) => Effect.Effect<void>
    readonly isRevoked: (jti: string) => Effect.Effect<boolean>
  }
>() {}

const KEY_PREFIX = "shum:revoked-jti:"

export const TokenStoreRedis = Layer.effect(
  TokenStore,
  Effect.gen(function* () {
    const redis = yield* Redis
    return TokenStore.of({
      revoke: (jti, expiresAt) =>
        Effect.gen(function* () {
          const ttl = expiresAt * 1000 - (yield* Clock.currentTimeMillis)
          if (ttl <= 0) return
          yield* redis.use((c) => c.set(`${KEY_PREFIX}${jti}`, "1", "PX", Math.ceil(ttl)))
        }).pipe(Effect.orDie),
      // Fail closed would lock everyone out while Redis is down; a revoked token then works until expiry.
      isRevoked: (jti) =>
        redis
          .use((c) => c.exists(`${KEY_PREFIX}${jti}`))
          .pipe(
            Effect.map((n) => n > 0),
            Effect.catchAll((error) =>
              Effect.logWarning("token store unavailable; revocation not checked", error).pipe(Effect.as(false))
            )
          )
    })
  })
)

export const TokenStoreMemory = Layer.effect(
  TokenStore,
  Effect.gen(function* () {
    const revoked = yield* Ref.make(new Map<string, number>())
    const nowSeconds = Effect.map(Clock.currentTimeMillis, (ms) => ms / 1000)
    return TokenStore.of({
      revoke: (jti, expiresAt) =>
        Effect.flatMap(nowSeconds, (now) =>
          Ref.update(revoked, (map) => {
            const next = new Map([...map].filter(([, until]) => until > now))
            next.set(jti, expiresAt)
            return next
          })
        ),
      isRevoked: (jti) =>
        Effect.gen(function* () {
          const now = yield* nowSeconds
          const until = (yield* Ref.get(revoked)).get(jti)
          return until !== undefined && until > now
        })
    })
  })
)

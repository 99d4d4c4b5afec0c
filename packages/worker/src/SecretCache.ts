/**
 * What the webhook delivery derives from a subscription's secret — the plaintext decrypted from the stored value
 * (`WebhookDispatcher.ts`), the HMAC key object made from it (`WebhookSender.ts`) — made once and kept only while
 * it is used (docs/operations.md §15): a `BoundedCache` swept every `SECRET_CACHE_SWEEP` by `sweepSecretCaches`,
 * each sweep dropping what was not used (made or read) since the one before. So an entry unused for 2 to 4
 * minutes (a deleted subscription's, a rotated secret's once its grace period ends) is gone even when nothing
 * reads the cache, and at most `max` entries are kept (the bound every cache here has). Below `max` an entry in
 * use is never made again; above it the cap's eviction may drop one used lately (it is then made again: a
 * decryption, not an error).
 */
import { Duration, Effect } from "effect"
import { makeBoundedCache } from "./BoundedCache.js"

/** How often the caches drop what was not used since the sweep before: unused 2 to 4 minutes, an entry is gone. */
export const SECRET_CACHE_SWEEP = Duration.minutes(2)

export interface SecretCache<K, V> {
  /** The value for `key`: the one kept, else `make(key)`'s, kept from now on. */
  readonly get: (key: K) => V
  /** Drops the entries not used since the previous sweep. */
  readonly sweep: () => void
  /** Entries kept. */
  readonly size: () => number
}

export const makeSecretCache = <K, V>(make: (key: K) => V, max = 1_000): SecretCache<K, V> => {
  const cache = makeBoundedCache<K, V>({ max })
  return { get: (key) => cache.getOrMake(key, make), sweep: cache.sweep, size: cache.size }
}

/** Sweeps the caches every `SECRET_CACHE_SWEEP`, for as long as the fiber runs (fork it in a scope). */
export const sweepSecretCaches = (
  ...caches: ReadonlyArray<Pick<SecretCache<never, unknown>, "sweep">>
): Effect.Effect<never> =>
  Effect.sync(() => {
    for (const cache of caches) cache.sweep()
  }).pipe(Effect.delay(SECRET_CACHE_SWEEP), Effect.forever)

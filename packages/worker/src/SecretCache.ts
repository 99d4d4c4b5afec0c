/**
 * What the webhook delivery derives from a subscription's secret — the plaintext decrypted from the stored value
 * (`WebhookDispatcher.ts`), the HMAC key object made from it (`WebhookSender.ts`) — made once and kept only while
 * it is used (docs/operations.md §15): in two generations, the current and the previous. `rotate()`, run every
 * `SECRET_CACHE_ROTATE` by `rotateSecretCaches`, drops the previous generation and makes the current one the
 * previous; a use finds an entry in either and keeps it in the current one. So an entry unused for two
 * rotations (4 minutes; a deleted subscription's, a rotated secret's once its grace period ends) is gone, an
 * entry in use is never made again, and at most `max` entries are current (the bound every cache here has).
 */
import { Duration, Effect } from "effect"

/** How often the caches drop what was not used since the rotation before: unused 2 to 4 minutes, an entry is gone. */
export const SECRET_CACHE_ROTATE = Duration.minutes(2)

export interface SecretCache<K, V> {
  /** The value for `key`: the one kept, else `make(key)`'s, kept from now on. */
  readonly get: (key: K) => V
  /** Drops the entries not used since the previous rotation. */
  readonly rotate: () => void
  /** Entries kept, in both generations. */
  readonly size: () => number
}

export const makeSecretCache = <K, V>(make: (key: K) => V, max = 1_000): SecretCache<K, V> => {
  let current = new Map<K, V>()
  let previous = new Map<K, V>()
  return {
    get: (key) => {
      let value = current.get(key)
      if (value !== undefined) return value
      value = previous.get(key)
      if (value === undefined) value = make(key)
      else previous.delete(key)
      if (current.size >= max) current.clear()
      current.set(key, value)
      return value
    },
    rotate: () => {
      previous = current
      current = new Map()
    },
    size: () => current.size + previous.size
  }
}

/** Rotates the caches every `SECRET_CACHE_ROTATE`, for as long as the fiber runs (fork it in a scope). */
export const rotateSecretCaches = (
  ...caches: ReadonlyArray<Pick<SecretCache<never, unknown>, "rotate">>
): Effect.Effect<never> =>
  Effect.sync(() => {
    for (const cache of caches) cache.rotate()
  }).pipe(Effect.delay(SECRET_CACHE_ROTATE), Effect.forever)

/**
 * The worker's small in-memory caches, one shape for all (the webhook delivery's: the decrypted secrets and
 * their HMAC keys, `SecretCache.ts`; a host's checked addresses, `guardedLookup`; a URL's checked target,
 * `WebhookSender.ts`; an event's body, `WebhookDispatcher.ts`):
 *
 * - at most `max` entries; beyond it, one goes by second chance (CLOCK, an approximation of least recently
 *   used): the entries sit on a clock's face, and its hand goes round, passing over each entry used (set or
 *   read) since the hand last passed it — unused from then on — and taking the first unused one;
 * - with `ttlMs`, an entry that old (since it was set; reads do not extend it) is a miss and goes;
 * - `sweep()` drops every entry not used since the previous sweep (or past `ttlMs`): run periodically, an entry
 *   unused for one to two periods is gone even when nothing reads the cache (the secrets', `SecretCache.ts`).
 *
 * A hit is a `Map` read and a flag set (and with `ttlMs` a clock read), an eviction a `Map` delete: nothing is
 * reordered — an exact LRU's move of the entry to the end of a `Map` on every hit costs a delete and an insertion,
 * several times a hit (bench/README.md "The worker's caches").
 */

export interface BoundedCacheOptions {
  /** The most entries kept; beyond it, one goes by second chance. */
  readonly max: number
  /** Entries this old (since set) are misses and go; unset, entries never age. */
  readonly ttlMs?: number
  /** Epoch milliseconds (`Date.now`, but in tests). */
  readonly now?: () => number
}

export interface BoundedCache<K, V> {
  /** The value kept for `key` (marked used); `undefined` if none, or past its age (then dropped). */
  readonly get: (key: K) => V | undefined
  /** The value kept for `key`, else `make(key)`'s, kept from now on. */
  readonly getOrMake: (key: K, make: (key: K) => V) => V
  /** Keeps `value` for `key`, used (its age from now); beyond `max`, another goes by second chance. */
  readonly set: (key: K, value: V) => void
  readonly delete: (key: K) => void
  /** Drops every entry not used since the previous sweep, or past its age; the rest are unused again. */
  readonly sweep: () => void
  /** Entries kept (some may be past their age until read or swept). */
  readonly size: () => number
}

interface Slot<K, V> {
  readonly key: K
  value: V
  /** When it was set (epoch ms; 0 without `ttlMs`). */
  at: number
  /** Set or read since it was last passed over by the eviction or swept. */
  used: boolean
  /** Its place on the clock's face (`ring`). */
  readonly index: number
}

export const makeBoundedCache = <K, V>(options: BoundedCacheOptions): BoundedCache<K, V> => {
  const { max, ttlMs, now = Date.now } = options
  const slots = new Map<K, Slot<K, V>>()
  /** The clock's face: each kept entry's slot at its place, `undefined` where one was deleted (in `free`). */
  const ring: Array<Slot<K, V> | undefined> = []
  const free: Array<number> = []
  /** The clock's hand: the place the eviction looks at next. */
  let hand = 0

  const drop = (slot: Slot<K, V>) => {
    slots.delete(slot.key)
    ring[slot.index] = undefined
    free.push(slot.index)
  }

  const get = (key: K): V | undefined => {
    const slot = slots.get(key)
    if (slot === undefined) return undefined
    if (ttlMs !== undefined && now() - slot.at >= ttlMs) {
      drop(slot)
      return undefined
    }
    slot.used = true
    return slot.value
  }

  /**
   * A place for a new entry: a free one, else a new one below `max`, else the clock's: the hand passes over the
   * used entries (unused from then on) and the first unused one goes — each pass spends a use, so a set moves
   * the hand once on average.
   */
  const place = (): number => {
    const freed = free.pop()
    if (freed !== undefined) return freed
    if (ring.length < max) return ring.length
    for (;;) {
      const slot = ring[hand]!
      const index = hand
      hand = hand + 1 === max ? 0 : hand + 1
      if (!slot.used) {
        slots.delete(slot.key)
        return index
      }
      slot.used = false
    }
  }

  const set = (key: K, value: V): void => {
    const at = ttlMs === undefined ? 0 : now()
    const kept = slots.get(key)
    if (kept !== undefined) {
      kept.value = value
      kept.at = at
      kept.used = true
      return
    }
    const slot: Slot<K, V> = { key, value, at, used: true, index: place() }
    ring[slot.index] = slot
    slots.set(key, slot)
  }

  return {
    get,
    getOrMake: (key, make) => {
      const kept = get(key)
      if (kept !== undefined) return kept
      const value = make(key)
      set(key, value)
      return value
    },
    set,
    delete: (key) => {
      const slot = slots.get(key)
      if (slot !== undefined) drop(slot)
    },
    sweep: () => {
      const time = ttlMs === undefined ? 0 : now()
      for (const slot of slots.values()) {
        if (!slot.used || (ttlMs !== undefined && time - slot.at >= ttlMs)) drop(slot)
        else slot.used = false
      }
    },
    size: () => slots.size
  }
}

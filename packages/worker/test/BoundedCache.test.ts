/**
 * The worker's one bounded cache (`BoundedCache.ts`): at most `max` entries, one going by second chance beyond it
 * (the oldest not used since it was last passed over); with `ttlMs`, an entry that old since its set is a miss
 * and goes; `sweep` drops what was not used since the sweep before (and what is past its age).
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { makeBoundedCache } from "../src/BoundedCache.js"

describe("BoundedCache", () => {
  it("beyond max: the oldest unused goes; a used one is passed over once, then may go", () => {
    const cache = makeBoundedCache<string, number>({ max: 3 })
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("c", 3)
    // all three used (set): d passes over each, leaving them unused, and a, the oldest, goes
    cache.set("d", 4)
    assert.isUndefined(cache.get("a"))
    assert.strictEqual(cache.size(), 3)
    assert.strictEqual(cache.get("b"), 2) // b used again; c not since it was passed over
    cache.set("e", 5) // c goes (b is passed over, moving behind d)
    assert.isUndefined(cache.get("c"))
    assert.deepStrictEqual([cache.get("b"), cache.get("d"), cache.get("e"), cache.size()], [2, 4, 5, 3])
    cache.set("d", 40) // a key set again: replaced, nothing goes
    assert.deepStrictEqual([cache.get("b"), cache.get("d"), cache.get("e"), cache.size()], [2, 40, 5, 3])
    cache.delete("d")
    assert.isUndefined(cache.get("d"))
    assert.strictEqual(cache.size(), 2)
  })

  it("without ttlMs entries never age", () => {
    const clock = { now: 0 }
    const cache = makeBoundedCache<string, number>({ max: 10, now: () => clock.now })
    cache.set("a", 1)
    clock.now = Number.MAX_SAFE_INTEGER
    assert.strictEqual(cache.get("a"), 1)
  })

  it("ttlMs: the age counts from the set, reads do not extend it; past it, a miss and gone", () => {
    const clock = { now: 1_000 }
    const cache = makeBoundedCache<string, number>({ max: 10, ttlMs: 100, now: () => clock.now })
    cache.set("a", 1)
    clock.now += 99
    assert.strictEqual(cache.get("a"), 1)
    clock.now += 1
    assert.isUndefined(cache.get("a"), "100 ms after its set, though read 1 ms before")
    assert.strictEqual(cache.size(), 0, "and dropped")
    cache.set("a", 2) // set again: its age starts again
    clock.now += 99
    assert.strictEqual(cache.get("a"), 2)
    cache.set("b", 3)
    clock.now += 1
    cache.sweep() // a (100 ms old) goes though used since the sweep before; b stays
    assert.deepStrictEqual([cache.size(), cache.get("b")], [1, 3])
  })

  it("sweep: drops what was not used (set or read) since the sweep before", () => {
    const cache = makeBoundedCache<string, number>({ max: 10 })
    cache.set("read", 1)
    cache.set("unread", 2)
    cache.sweep()
    assert.strictEqual(cache.size(), 2, "both set since the sweep before")
    assert.strictEqual(cache.get("read"), 1)
    cache.sweep()
    assert.isUndefined(cache.get("unread"))
    assert.strictEqual(cache.get("read"), 1)
    cache.sweep()
    cache.set("read", 2) // set again: used
    cache.sweep()
    assert.strictEqual(cache.get("read"), 2)
    cache.sweep()
    cache.sweep()
    assert.strictEqual(cache.size(), 0)
  })

  it("getOrMake: made once while kept, made again once gone", () => {
    const clock = { now: 0 }
    const made: Array<string> = []
    const make = (key: string) => {
      made.push(key)
      return key.length
    }
    const cache = makeBoundedCache<string, number>({ max: 2, ttlMs: 10, now: () => clock.now })
    assert.strictEqual(cache.getOrMake("aa", make), 2)
    assert.strictEqual(cache.getOrMake("aa", make), 2)
    clock.now += 10
    cache.getOrMake("aa", make) // past its age: made again
    cache.getOrMake("b", make)
    cache.getOrMake("c", make) // aa goes (max 2, the oldest)
    cache.getOrMake("aa", make)
    assert.deepStrictEqual(made, ["aa", "aa", "b", "c", "aa"])
  })

  it("a churn of keys, reads, sets, sweeps and time: never more than max; a hit is the value last set, within its age; what went unused is swept", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), key: fc.nat(20), value: fc.nat() }),
      fc.record({ kind: fc.constant("get" as const), key: fc.nat(20) }),
      fc.record({ kind: fc.constant("delete" as const), key: fc.nat(20) }),
      fc.record({ kind: fc.constant("tick" as const), ms: fc.nat(60) }),
      fc.constant({ kind: "sweep" as const })
    )
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 20, maxLength: 200, size: "max" }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        (ops, max, aging) => {
          const clock = { now: 0 }
          const ttlMs = aging ? 100 : undefined
          const cache = makeBoundedCache<number, number>({ max, ...(ttlMs ? { ttlMs } : {}), now: () => clock.now })
          /** What was last set for each key and when; whether used since the last sweep. */
          const model = new Map<number, { value: number; at: number; used: boolean }>()
          for (const o of ops) {
            if (o.kind === "set") {
              cache.set(o.key, o.value)
              model.set(o.key, { value: o.value, at: clock.now, used: true })
            } else if (o.kind === "get") {
              const value = cache.get(o.key)
              const known = model.get(o.key)
              if (value !== undefined) {
                assert.isDefined(known)
                assert.strictEqual(value, known!.value)
                if (ttlMs !== undefined) assert.isBelow(clock.now - known!.at, ttlMs, "a hit is within its age")
                known!.used = true
              } else {
                model.delete(o.key)
              }
            } else if (o.kind === "delete") {
              cache.delete(o.key)
              model.delete(o.key)
            } else if (o.kind === "tick") {
              clock.now += o.ms
            } else {
              // gone: what was not used since the sweep before, and what is past its age; the rest, unless
              // evicted meanwhile by a set, still holds the value last set
              cache.sweep()
              for (const [key, known] of model) {
                const within = ttlMs === undefined || clock.now - known.at < ttlMs
                const value = cache.get(key)
                if (!known.used || !within) assert.isUndefined(value, `key ${key}`)
                if (value === undefined) model.delete(key)
                else assert.strictEqual(value, known.value)
                known.used = true // read just now
              }
            }
            assert.isAtMost(cache.size(), max)
          }
        }
      ),
      { numRuns: 300 }
    )
  })
})

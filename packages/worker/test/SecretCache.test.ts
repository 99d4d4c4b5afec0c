/**
 * The secrets' cache of the webhook delivery (`SecretCache.ts`, docs/operations.md §15): a value made once while
 * it is used, dropped by the first sweep after a whole period unused, and the sweeping fiber sweeps every
 * `SECRET_CACHE_SWEEP` — so an unused entry is gone 2 to 4 minutes after its last use.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { makeSecretCache, SECRET_CACHE_SWEEP, sweepSecretCaches } from "../src/SecretCache.js"

const counting = (max?: number) => {
  const made: Array<string> = []
  const cache = makeSecretCache((key: string) => {
    made.push(key)
    return `plain:${key}`
  }, max)
  return { made, cache }
}

describe("SecretCache", () => {
  it("a value in use is made once across sweeps; one unused since the sweep before is dropped", () => {
    const { made, cache } = counting()
    assert.strictEqual(cache.get("a"), "plain:a")
    assert.strictEqual(cache.get("b"), "plain:b")
    cache.sweep()
    assert.strictEqual(cache.size(), 2, "both made since the sweep before: kept")
    assert.strictEqual(cache.get("a"), "plain:a") // used since the sweep: kept
    cache.sweep()
    assert.strictEqual(cache.size(), 1, "b, unused since the sweep before, is gone")
    for (let i = 0; i < 5; i++) {
      assert.strictEqual(cache.get("a"), "plain:a")
      cache.sweep()
    }
    assert.deepStrictEqual(made, ["a", "b"], "a, in use throughout, was made once")
    assert.strictEqual(cache.get("b"), "plain:b")
    assert.deepStrictEqual(made, ["a", "b", "b"])
  })

  it("bounded: beyond the bound one goes, an unused one before those in use", () => {
    const { made, cache } = counting(3)
    for (const key of ["a", "b", "c"]) cache.get(key)
    cache.sweep() // all unused again
    cache.get("a")
    cache.get("c")
    cache.get("d") // b, the one unused, goes
    assert.strictEqual(cache.size(), 3)
    for (const key of ["a", "c", "d"]) cache.get(key)
    assert.deepStrictEqual(made, ["a", "b", "c", "d"])
    cache.get("b")
    assert.deepStrictEqual(made, ["a", "b", "c", "d", "b"])
    assert.strictEqual(cache.size(), 3)
  })

  it.scoped("the sweeping fiber drops what was not used for 2 to 4 minutes, and keeps what is used", () =>
    Effect.gen(function* () {
      const { made, cache } = counting()
      cache.get("old")
      yield* Effect.forkScoped(sweepSecretCaches(cache))
      yield* TestClock.adjust(SECRET_CACHE_SWEEP)
      assert.strictEqual(cache.size(), 1, "made before the first sweep: kept by it")
      cache.get("used")
      yield* TestClock.adjust(SECRET_CACHE_SWEEP) // the second: "old", unused for 4 minutes, goes
      assert.strictEqual(cache.size(), 1)
      yield* TestClock.adjust(SECRET_CACHE_SWEEP) // the third: "used", unused for 2 minutes, goes
      assert.strictEqual(cache.size(), 0)
      cache.get("old")
      assert.deepStrictEqual(made, ["old", "used", "old"])
    })
  )
})

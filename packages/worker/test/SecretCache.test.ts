/**
 * The secrets' cache of the webhook delivery (`SecretCache.ts`, docs/operations.md §15): a value made once while
 * it is used, dropped after two rotations unused, and the rotation fiber rotates every `SECRET_CACHE_ROTATE`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { makeSecretCache, rotateSecretCaches, SECRET_CACHE_ROTATE } from "../src/SecretCache.js"

const counting = () => {
  const made: Array<string> = []
  const cache = makeSecretCache((key: string) => {
    made.push(key)
    return `plain:${key}`
  })
  return { made, cache }
}

describe("SecretCache", () => {
  it("a value in use is made once across rotations; one unused for two rotations is dropped", () => {
    const { made, cache } = counting()
    assert.strictEqual(cache.get("a"), "plain:a")
    assert.strictEqual(cache.get("b"), "plain:b")
    cache.rotate()
    assert.strictEqual(cache.get("a"), "plain:a") // used since the rotation: kept
    cache.rotate()
    assert.strictEqual(cache.get("a"), "plain:a")
    assert.deepStrictEqual(made, ["a", "b"])
    assert.strictEqual(cache.size(), 1) // "b", unused for two rotations, is gone
    assert.strictEqual(cache.get("b"), "plain:b")
    assert.deepStrictEqual(made, ["a", "b", "b"])
  })

  it("bounded: at the bound the current generation starts again", () => {
    const cache = makeSecretCache((key: number) => key * 2, 3)
    for (let i = 0; i < 4; i++) cache.get(i)
    assert.strictEqual(cache.size(), 1)
    assert.strictEqual(cache.get(3), 6)
  })

  it.scoped("the rotation fiber drops what was not used within two periods", () =>
    Effect.gen(function* () {
      const { made, cache } = counting()
      cache.get("old")
      yield* Effect.forkScoped(rotateSecretCaches(cache))
      yield* TestClock.adjust(SECRET_CACHE_ROTATE)
      assert.strictEqual(cache.size(), 1)
      yield* TestClock.adjust(SECRET_CACHE_ROTATE)
      assert.strictEqual(cache.size(), 0)
      cache.get("old")
      assert.deepStrictEqual(made, ["old", "old"])
    })
  )
})

/**
 * The sign-in failure counters on the real Redis (docs/decisions.md D17): one script counts under each key,
 * and a key's window is fixed — its expiry is set by its first count only, so failures keep counting in the
 * window they began and never stretch it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Redis } from "@shum/infra/Redis"
import { randomName, redisConnection } from "@shum/infra/Testing"
import { Effect, Layer } from "effect"
import { FailureCounts, FailureCountsRedis } from "../src/Audit/SignInBursts.js"

const prefix = `${randomName("shum-test-signin:")}:`
const TestLayer = FailureCountsRedis({ prefix }).pipe(Layer.provideMerge(Redis.layer(redisConnection)))

describe("FailureCountsRedis", () => {
  it.scoped("counts per key in one script; the window is set by the first count and never stretched", () =>
    Effect.gen(function* () {
      const counts = yield* FailureCounts
      const redis = yield* Redis
      assert.deepStrictEqual(yield* counts.add(["email:a", "address:x"], 60), [1, 1])
      const first = yield* redis.use((c) => c.pttl(`${prefix}email:a`))
      yield* redis.use((c) => c.pexpire(`${prefix}email:a`, 30_000))
      assert.deepStrictEqual(yield* counts.add(["email:a", "address:y"], 60), [2, 1])
      assert.deepStrictEqual(yield* counts.add(["email:b", "address:x"], 60), [1, 2])
      const after = yield* redis.use((c) => c.pttl(`${prefix}email:a`))
      assert.isAbove(first, 55_000)
      assert.isAtMost(after, 30_000)
      yield* redis.use((c) => c.del(...["email:a", "email:b", "address:x", "address:y"].map((k) => `${prefix}${k}`)))
    }).pipe(Effect.provide(TestLayer))
  )
})

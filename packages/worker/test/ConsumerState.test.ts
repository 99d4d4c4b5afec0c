/**
 * `ConsumerState`: not consuming until a reader has read; any reader whose last read failed makes the
 * worker not consuming (with the reason); consuming again once it reads.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { make } from "../src/ConsumerState.js"

describe("ConsumerState", () => {
  it.effect("not consuming before the first read, nor while a reader's last read failed", () =>
    Effect.gen(function* () {
      const state = yield* make
      assert.deepStrictEqual(yield* state.problem, Option.some("not consuming the image job stream yet"))
      yield* state.report(0, Option.none())
      yield* state.report(1, Option.none())
      assert.deepStrictEqual(yield* state.problem, Option.none())
      yield* state.report(1, Option.some("NOGROUP No such key"))
      assert.deepStrictEqual(yield* state.problem, Option.some("cannot read the image job stream: NOGROUP No such key"))
      yield* state.report(0, Option.none())
      assert.isTrue(Option.isSome(yield* state.problem), "another reader's success does not hide it")
      yield* state.report(1, Option.none())
      assert.deepStrictEqual(yield* state.problem, Option.none())
    })
  )
})

/**
 * The availability searches' batches (`Batches`, `Catalogue/AvailabilitySearch.ts`): a search alone is sent at
 * once; while four statements run, the searches that arrive wait and go together in the next, at most
 * `maxSize` a statement, each given its own row; one interrupted while waiting is left out; a failed statement
 * fails every search of its batch.
 */
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { Batches } from "../src/Catalogue/AvailabilitySearch.js"

/** A batcher whose statements wait until the test ends them: each answers its queries doubled. */
const pending = () => {
  const statements: Array<{
    queries: ReadonlyArray<number>
    done: (exit: Exit.Exit<ReadonlyArray<number>, SqlError>) => void
  }> = []
  const counts = { statements: 0, batched: 0 }
  const batches = new Batches<number, number>(counts, 3, (queries, _runtime, done) => {
    statements.push({ queries, done })
  })
  const answer = (k: number) => statements[k]!.done(Exit.succeed(statements[k]!.queries.map((q) => q * 2)))
  return { statements, counts, batches, answer }
}

describe("availability batches", () => {
  it.effect("alone at once; behind four running statements, together (at most maxSize), each its own row", () =>
    Effect.gen(function* () {
      const { statements, counts, batches, answer } = pending()
      const first = yield* Effect.all(
        [1, 2, 3, 4].map((q) => Effect.fork(batches.submit(q))),
        { concurrency: "unbounded" }
      )
      yield* Effect.yieldNow()
      assert.deepStrictEqual(
        statements.map((s) => s.queries),
        [[1], [2], [3], [4]]
      )
      const waiting = yield* Effect.all(
        [5, 6, 7, 8, 9].map((q) => Effect.fork(batches.submit(q))),
        { concurrency: "unbounded" }
      )
      yield* Effect.yieldNow()
      assert.strictEqual(statements.length, 4)
      answer(0)
      assert.deepStrictEqual(statements[4]!.queries, [5, 6, 7])
      answer(1)
      assert.deepStrictEqual(statements[5]!.queries, [8, 9])
      for (let k = 2; k < statements.length; k++) answer(k)
      assert.deepStrictEqual(
        yield* Effect.all([...first, ...waiting].map(Fiber.join)),
        [2, 4, 6, 8, 10, 12, 14, 16, 18]
      )
      assert.deepStrictEqual(counts, { statements: 6, batched: 5 })
    })
  )

  it.effect("interrupted while waiting: left out; a failed statement fails its whole batch alike", () =>
    Effect.gen(function* () {
      const { statements, batches, answer } = pending()
      const running = yield* Effect.all(
        [1, 2, 3, 4].map((q) => Effect.fork(batches.submit(q))),
        { concurrency: "unbounded" }
      )
      const gone = yield* Effect.fork(batches.submit(5))
      const a = yield* Effect.fork(batches.submit(6))
      const b = yield* Effect.fork(batches.submit(7))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(gone)
      answer(0)
      assert.deepStrictEqual(statements[4]!.queries, [6, 7])
      const error = new SqlError({ cause: new Error("down"), message: "Failed to execute statement" })
      statements[4]!.done(Exit.fail(error))
      assert.deepStrictEqual(yield* Fiber.await(a), Exit.fail(error))
      assert.deepStrictEqual(yield* Fiber.await(b), Exit.fail(error))
      for (let k = 1; k < 4; k++) answer(k)
      assert.deepStrictEqual(yield* Effect.all(running.map(Fiber.join)), [2, 4, 6, 8])
    })
  )
})

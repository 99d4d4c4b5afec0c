/**
 * `retryAborted` (`src/Bookings/StayWrites.ts`): a write the database aborted (a deadlock, a serialization
 * failure) is run again up to three times, each abort logged as a warning; a fourth abort is a defect (500),
 * never a false answer; any other failure is the write's own, not retried. The real deadlock:
 * `../BookingsPath.test.ts`.
 */
import "./fakes/NoNetwork.js"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Effect, Exit, Logger, LogLevel, Option } from "effect"
import { retryAborted } from "../../src/Bookings/StayWrites.js"

class Aborted extends Data.TaggedError("Aborted")<{ readonly cause: string }> {}
class Refused extends Data.TaggedError("Refused")<{}> {}

/** A write that fails with `failures` in turn, then answers `"done"`; its runs counted, the warnings kept. */
const write = (failures: ReadonlyArray<Aborted | Refused>) => {
  const runs = { count: 0 }
  const effect = Effect.suspend(() => {
    const failure = failures[runs.count]
    runs.count += 1
    return failure === undefined ? Effect.succeed("done" as const) : Effect.fail(failure)
  })
  return { runs, effect }
}

const run = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const warnings: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel === LogLevel.Warning) warnings.push(String(Array.isArray(message) ? message[0] : message))
    })
    const exit = yield* Effect.exit(effect).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return { exit, warnings }
  })

describe("retryAborted", () => {
  const retried = retryAborted("Aborted", "booking")

  it.effect("an aborted write is run again, each abort a warning, until it answers", () =>
    Effect.gen(function* () {
      const { effect, runs } = write([new Aborted({ cause: "deadlock" }), new Aborted({ cause: "deadlock" })])
      const { exit, warnings } = yield* run(retried(effect))
      assert.deepStrictEqual(exit, Exit.succeed("done"))
      assert.strictEqual(runs.count, 3)
      assert.deepStrictEqual(warnings, [
        "booking aborted by the database, retrying",
        "booking aborted by the database, retrying"
      ])
    })
  )

  it.effect("four aborts in a row: a defect carrying the database's cause, after four runs", () =>
    Effect.gen(function* () {
      const { effect, runs } = write(Array.from({ length: 5 }, (_, i) => new Aborted({ cause: `deadlock ${i}` })))
      const { exit, warnings } = yield* run(retried(effect))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.deepStrictEqual(Cause.dieOption(exit.cause), Option.some("deadlock 3"))
      assert.strictEqual(runs.count, 4)
      assert.strictEqual(warnings.length, 4)
    })
  )

  it.effect("any other failure is the answer at once, not retried", () =>
    Effect.gen(function* () {
      const { effect, runs } = write([new Refused(), new Aborted({ cause: "deadlock" })])
      const { exit, warnings } = yield* run(retried(effect))
      assert.deepStrictEqual(exit, Exit.fail(new Refused()))
      assert.strictEqual(runs.count, 1)
      assert.deepStrictEqual(warnings, [])
    })
  )
})

/**
 * Bounded waits where interruption is off (BoundedWait.ts): the bound holds in a finalizer, where
 * `Effect.timeout` waits for its wait instead; an interruption of the fiber does not cut the wait short.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Option } from "effect"
import { fiberWithin, promiseWithin, waitWithin } from "../src/BoundedWait.js"

const never = () => new Promise<never>(() => {})
const after =
  <A>(ms: number, value: A) =>
  () =>
    new Promise<A>((done) => setTimeout(() => done(value), ms))

describe("BoundedWait", () => {
  it.live("answers the value when it comes in time, None at the bound", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* promiseWithin("1 second", after(20, "exited")), Option.some("exited"))
      const started = Date.now()
      assert.deepStrictEqual(yield* promiseWithin("100 millis", never), Option.none())
      assert.isAtLeast(Date.now() - started, 90)
      // an event that comes during `register` itself
      assert.deepStrictEqual(yield* waitWithin<number>("1 second", (done) => done(7)), Option.some(7))
    })
  )

  it.live("the bound holds in a finalizer, where Effect.timeout does not bound an uninterruptible wait", () =>
    Effect.gen(function* () {
      const outcome = yield* Deferred.make<Option.Option<unknown>>()
      const fiber = yield* Effect.fork(
        Effect.scoped(
          Effect.addFinalizer(() =>
            Effect.flatMap(promiseWithin("150 millis", never), (o) => Deferred.succeed(outcome, o))
          )
        )
      )
      const result = yield* Deferred.await(outcome).pipe(Effect.timeout("3 seconds"))
      assert.deepStrictEqual(result, Option.none())
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))
    })
  )

  it.live("an interruption arriving during the wait does not cut it short (a second SIGTERM while draining)", () =>
    Effect.gen(function* () {
      const waited = yield* Deferred.make<Option.Option<string>>()
      const inFinalizer = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        Effect.scoped(
          Effect.addFinalizer(() =>
            Deferred.succeed(inFinalizer, undefined).pipe(
              Effect.zipRight(promiseWithin("2 seconds", after(300, "stopped"))),
              Effect.flatMap((o) => Deferred.succeed(waited, o))
            )
          )
        ).pipe(Effect.zipRight(Effect.never))
      )
      yield* Deferred.await(inFinalizer)
      yield* Fiber.interrupt(fiber).pipe(Effect.fork)
      assert.deepStrictEqual(yield* Deferred.await(waited), Option.some("stopped"))
    })
  )

  it.live("a rejection or a throwing register ends the wait at once as a defect, leaving no timer", () =>
    Effect.gen(function* () {
      const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length
      const before = timers()
      const started = Date.now()
      const rejected = yield* Effect.exit(promiseWithin("30 seconds", () => Promise.reject(new Error("gone"))))
      assert.isTrue(Exit.isFailure(rejected) && Cause.isDie(rejected.cause))
      const thrown = yield* Effect.exit(
        waitWithin("30 seconds", () => {
          throw new Error("cannot listen")
        })
      )
      assert.isTrue(Exit.isFailure(thrown) && Cause.isDie(thrown.cause))
      assert.isBelow(Date.now() - started, 1_000)
      assert.strictEqual(timers(), before, "no 30 s timer left behind")
    })
  )

  it.live("a fiber's end, or None at the bound while it runs on", () =>
    Effect.gen(function* () {
      const quick = yield* Effect.fork(Effect.sleep("20 millis").pipe(Effect.as(1)))
      assert.isTrue(Option.isSome(yield* fiberWithin("1 second", quick)))
      const slow = yield* Effect.fork(Effect.never)
      assert.isTrue(Option.isNone(yield* fiberWithin("100 millis", slow).pipe(Effect.uninterruptible)))
      assert.isNull(slow.unsafePoll(), "still running")
      yield* Fiber.interrupt(slow)
    })
  )
})

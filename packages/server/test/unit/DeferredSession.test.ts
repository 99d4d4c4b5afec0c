/**
 * The guards of the session left to a write (`src/Auth/DeferredSession.ts`, docs/decisions.md D13), with no
 * database: the statement's refusals are the middleware's 401s; a session no statement checked is checked
 * before the answer, and its refusal replaces whatever the request would have answered; with nothing around
 * the request to do that, the middleware checks it at once. The SQL itself: `../SessionInWrite.test.ts`.
 */
import "./fakes/NoNetwork.js"
import { assert, describe, it } from "@effect/vitest"
import { Unauthorized } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import type { DeferredAuthentication } from "@shum/domain/Security"
import { Cause, Effect, Exit, Option } from "effect"
import { checkedBeforeAnswer, deferSession, inStatement, withRequestSession } from "../../src/Auth/DeferredSession.js"

const claims = { userId: 7, jti: "jti-7", version: 3, expiresAt: 0 }

/** An eager check that counts its runs and answers `refusal` (none: the session stands). */
const eagerCheck = (refusal?: string) => {
  const runs = { count: 0 }
  const check = Effect.suspend(() => {
    runs.count += 1
    return refusal === undefined ? Effect.void : Effect.fail(new Unauthorized({ detail: refusal }))
  })
  return { runs, check }
}

/** The `detail` of the 401 a request failed with, `"succeeded"`, or the other failure. */
const detailOf = <A>(exit: Exit.Exit<A, unknown>) => {
  if (Exit.isSuccess(exit)) return "succeeded"
  const failure = Option.getOrUndefined(Cause.failureOption(exit.cause))
  return failure instanceof Unauthorized ? failure.detail : failure
}

describe("the session checked in the write (D13)", () => {
  it.effect("the statement gets the claims; its refusals are the middleware's 401s; no eager check", () =>
    Effect.gen(function* () {
      const eager = eagerCheck(Messages.tokenInvalid)
      const answers: Array<unknown> = []
      for (const outcome of ["no_user", "token_invalid", "booked"]) {
        const exit = yield* checkedBeforeAnswer(
          Effect.flatMap(
            deferSession(claims, () => eager.check),
            (session) =>
              inStatement(session, (caller) => {
                answers.push(caller)
                return Effect.succeed([{ outcome }])
              })
          )
        ).pipe(Effect.exit)
        answers.push(detailOf(exit))
      }
      const args = { userId: 7, jti: "jti-7", version: 3 }
      assert.deepStrictEqual(answers, [args, Messages.userNotFound, args, Messages.tokenInvalid, args, "succeeded"])
      assert.strictEqual(eager.runs.count, 0)
    })
  )

  it.effect("a session no statement checked is checked before the answer; refused, the 401 is the answer", () =>
    Effect.gen(function* () {
      const refused = eagerCheck(Messages.tokenInvalid)
      const answer = yield* checkedBeforeAnswer(
        Effect.as(
          deferSession(claims, () => refused.check),
          "an answer"
        )
      ).pipe(Effect.exit)
      assert.strictEqual(detailOf(answer), Messages.tokenInvalid)
      assert.strictEqual(refused.runs.count, 1)
      // a failure (a 422 before the write) gives way to the refusal too
      const failed = yield* checkedBeforeAnswer(
        Effect.zipRight(
          deferSession(claims, () => refused.check),
          Effect.fail("a 422")
        )
      ).pipe(Effect.exit)
      assert.strictEqual(detailOf(failed), Messages.tokenInvalid)
      // a session that stands leaves the answer as it was
      const stands = eagerCheck()
      const kept = yield* checkedBeforeAnswer(
        Effect.as(
          deferSession(claims, () => stands.check),
          "an answer"
        )
      )
      assert.strictEqual(kept, "an answer")
      assert.strictEqual(stands.runs.count, 1)
    })
  )

  it.effect("a statement that failed leaves the session to the eager check", () =>
    Effect.gen(function* () {
      const eager = eagerCheck(Messages.userNotFound)
      const exit = yield* checkedBeforeAnswer(
        Effect.flatMap(
          deferSession(claims, () => eager.check),
          (session) => inStatement(session, () => Effect.fail("the database went away"))
        )
      ).pipe(Effect.exit)
      assert.strictEqual(detailOf(exit), Messages.userNotFound)
      assert.strictEqual(eager.runs.count, 1)
    })
  )

  it.effect("with nothing around the request to check it later, the middleware checks the session at once", () =>
    Effect.gen(function* () {
      const eager = eagerCheck(Messages.tokenInvalid)
      const exit = yield* Effect.exit(deferSession(claims, () => eager.check))
      assert.strictEqual(detailOf(exit), Messages.tokenInvalid)
      assert.strictEqual(eager.runs.count, 1)
    })
  )
})

/** `withRequestSession` outside a group: its requirement (the middleware's tag) is a marker, read from nothing. */
const handlerSession = <A, E>(effect: Effect.Effect<A, E, DeferredAuthentication>) => effect as Effect.Effect<A, E>

describe("the handler's session, read from the request (withRequestSession)", () => {
  it.effect("is the session the middleware registered for this request, the one its statement checks", () =>
    Effect.gen(function* () {
      const answers: Array<unknown> = []
      for (const [userId, outcome] of [
        [7, "booked"],
        [8, "no_user"]
      ] as const) {
        const eager = eagerCheck()
        const exit = yield* checkedBeforeAnswer(
          Effect.flatMap(
            deferSession({ ...claims, userId }, () => eager.check),
            (registered) =>
              handlerSession(
                withRequestSession((session) => {
                  answers.push(session === registered)
                  return inStatement(session, (caller) => {
                    answers.push(caller.userId)
                    return Effect.succeed([{ outcome }])
                  })
                })
              )
          )
        ).pipe(Effect.exit)
        answers.push(detailOf(exit), eager.runs.count)
      }
      assert.deepStrictEqual(answers, [true, 7, "succeeded", 0, true, 8, Messages.userNotFound, 0])
    })
  )

  it.effect("where the middleware checked it at once (nothing around the request), that session", () =>
    Effect.gen(function* () {
      const eager = eagerCheck()
      const registered = yield* deferSession(claims, () => eager.check)
      const session = yield* handlerSession(withRequestSession(Effect.succeed))
      assert.strictEqual(session, registered)
      assert.strictEqual(eager.runs.count, 1)
    })
  )

  it.effect("a request its middleware did not run for has none: a defect, no statement run", () =>
    Effect.gen(function* () {
      let ran = false
      const exit = yield* checkedBeforeAnswer(
        handlerSession(
          withRequestSession(() => {
            ran = true
            return Effect.void
          })
        )
      ).pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      assert.isFalse(ran)
    })
  )
})

/**
 * The sign-in burst rule (docs/decisions.md D17) with the in-memory counters and a fake audit trail, on the
 * `TestClock`: one row when a count reaches the threshold, none for the failures after it in the same window,
 * one again in the next window. `../Audit.test.ts` proves it through HTTP on PostgreSQL, `../SignInBursts.test.ts`
 * the Redis counters.
 */
import "./fakes/NoNetwork.js"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { changesOf, REDACTED } from "../../src/Audit/AuditTrail.js"
import {
  FailureCountsMemory,
  makeFailureCountsMemory,
  type MemoryWindow,
  SignInBursts
} from "../../src/Audit/SignInBursts.js"
import { auditEntries } from "./fakes/AuditTrail.js"
import { unitEnvironment } from "./fakes/Environment.js"

const TestLayer = SignInBursts.Default.pipe(
  Layer.provide(FailureCountsMemory),
  Layer.provide(unitEnvironment({ AUDIT_SIGN_IN_BURST_THRESHOLD: "4", AUDIT_SIGN_IN_BURST_WINDOW_SECONDS: "60" }))
)

describe("SignInBursts (in-memory counters)", () => {
  it.effect("a burst is recorded once per window, for the e-mail or the address that reached the threshold", () =>
    Effect.gen(function* () {
      auditEntries.length = 0
      const bursts = yield* SignInBursts
      for (let i = 0; i < 10; i++) yield* bursts.failed("Victim@Example.com", "192.0.2.1")
      assert.deepStrictEqual(
        auditEntries.map((entry) => [entry.action, entry.entityId, entry.changes["count"]]),
        [["auth.sign_in_failed_burst", "victim@example.com", { after: 4 }]]
      )
      yield* TestClock.adjust("59 seconds")
      yield* bursts.failed("victim@example.com", "192.0.2.1")
      assert.strictEqual(auditEntries.length, 1)
      // the window opened at the first failure: a minute later a new one begins
      yield* TestClock.adjust("2 seconds")
      for (let i = 0; i < 4; i++) yield* bursts.failed("victim@example.com", "192.0.2.1")
      assert.strictEqual(auditEntries.length, 2)
      // one address trying many e-mails: the address's burst
      for (let i = 0; i < 6; i++) yield* bursts.failed(`user${i}@example.com`, "192.0.2.99")
      assert.deepStrictEqual(auditEntries[2]!.entityId, "192.0.2.99")
      assert.deepStrictEqual(auditEntries[2]!.changes["by"], { after: ["client_address"] })
      assert.strictEqual(auditEntries.length, 3)
    }).pipe(Effect.provide(TestLayer))
  )

  it("the changed fields: before/after of what differs; a create's and a delete's fields; secrets redacted", () => {
    assert.deepStrictEqual(changesOf({ id: 1, price: 3000, title: "A" }, { id: 1, price: 3500, title: "A" }), {
      price: { before: 3000, after: 3500 }
    })
    assert.deepStrictEqual(changesOf(undefined, { id: 2, title: "B", description: null }), {
      title: { after: "B" },
      description: { after: null }
    })
    assert.deepStrictEqual(changesOf({ id: 3, facility_ids: [1, 2] }, undefined), {
      facility_ids: { before: [1, 2] }
    })
    assert.deepStrictEqual(changesOf({ facility_ids: [1] }, { facility_ids: [1] }), {})
    assert.deepStrictEqual(
      changesOf(
        { hashed_password: "$2b$12$old", secret: "enc:a", previous_secret: null },
        { hashed_password: "$2b$12$new", secret: "enc:b", previous_secret: "enc:a" }
      ),
      {
        password: { before: REDACTED, after: REDACTED },
        secret: { before: REDACTED, after: REDACTED },
        previous_secret: { before: null, after: REDACTED }
      }
    )
  })
})

/** A map that counts the entries its `entries()` iterators visit. */
class VisitCountingMap extends Map<string, MemoryWindow> {
  visits = 0
  override entries(): MapIterator<[string, MemoryWindow]> {
    const inner = super.entries()
    const original = inner.next.bind(inner)
    const next = () => {
      const result = original()
      if (!result.done) this.visits++
      return result
    }
    return Object.assign(inner, { next })
  }
}

describe("FailureCountsMemory: bounded, O(1) amortised per count", () => {
  it.effect("held full of live windows, each new key visits O(1) windows; expired ones go from the front", () =>
    Effect.gen(function* () {
      const maxKeys = 1000
      const windows = new VisitCountingMap()
      const counts = makeFailureCountsMemory(maxKeys, windows)
      for (let i = 0; i < maxKeys; i++) yield* counts.add([`old${i}`], 60)
      assert.strictEqual(windows.size, maxKeys)
      // full of live windows: each new key drops the oldest, never scans them all
      windows.visits = 0
      for (let i = 0; i < 5 * maxKeys; i++) yield* counts.add([`new${i}`], 60)
      assert.strictEqual(windows.size, maxKeys)
      assert.isAtMost(windows.visits, 2 * 5 * maxKeys)
      // the newest windows are the ones kept, and they go on counting
      assert.deepStrictEqual(yield* counts.add([`new${5 * maxKeys - 1}`, "old0"], 60), [2, 1])
      // once their windows have passed, the expired ones are dropped from the front as new keys come
      yield* TestClock.adjust("61 seconds")
      windows.visits = 0
      yield* counts.add(["after"], 60)
      assert.strictEqual(windows.size, 1)
      assert.isAtMost(windows.visits, maxKeys + 1)
      windows.visits = 0
      for (let i = 0; i < maxKeys - 1; i++) yield* counts.add([`later${i}`], 60)
      assert.isAtMost(windows.visits, 2 * maxKeys)
      // a key whose window passed opens a new one, at the end (it expires last)
      assert.deepStrictEqual(yield* counts.add(["after"], 60), [2])
    })
  )
})

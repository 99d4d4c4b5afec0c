/**
 * Sign-in failure bursts in the audit log (docs/decisions.md D17, docs/operations.md §13): every failed
 * sign-in counts once for its e-mail (lower-cased, as sign-in matches it, D12) and once for its client
 * address, each in a fixed window that opens at its first failure (`AUDIT_SIGN_IN_BURST_WINDOW_SECONDS`).
 * The failure that brings a count to `AUDIT_SIGN_IN_BURST_THRESHOLD` writes ONE `auth.sign_in_failed_burst`
 * row; the failures after it in the same window write nothing — a row per failure would let an attacker
 * flood the table. The counters live in Redis (one script, so replicas share them, as the rate limiter's
 * do, D4) or in process memory (the embedded default, tests).
 *
 * Never in the sign-in's way: when the counters or the database do not answer, a warning is logged and the
 * 401 is answered as ever.
 */
import { AppConfig } from "@shum/infra/Config"
import { Redis } from "@shum/infra/Redis"
import { Clock, Data, Effect, Layer, Schema } from "effect"
import { AuditTrail } from "./AuditTrail.js"

export class FailureCountsUnavailable extends Data.TaggedError("FailureCountsUnavailable")<{
  readonly cause: unknown
}> {}

/** Fixed-window counters: each key's window opens at its first count and lasts `windowSeconds`. */
export class FailureCounts extends Effect.Tag("server/FailureCounts")<
  FailureCounts,
  {
    /** Counts one under each key; the counts after it, in the keys' order. */
    readonly add: (
      keys: ReadonlyArray<string>,
      windowSeconds: number
    ) => Effect.Effect<ReadonlyArray<number>, FailureCountsUnavailable>
  }
>() {}

// KEYS: the counters; ARGV[1]: the window (s). A key's expiry is set by its first count only: a fixed window.
const COUNT = `
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  if counts[i] == 1 then redis.call('EXPIRE', key, tonumber(ARGV[1])) end
end
return counts`

const Counts = Schema.Array(Schema.Number)

export const FailureCountsRedis = (options: { readonly prefix: string } = { prefix: "shum:signin-fail:" }) =>
  Layer.effect(
    FailureCounts,
    Effect.map(Redis, (redis) =>
      FailureCounts.of({
        add: (keys, windowSeconds) =>
          redis
            .use(
              (c) =>
                c.status !== "ready"
                  ? Promise.reject(new Error(`Redis connection is ${c.status}`))
                  : c.eval(COUNT, keys.length, ...keys.map((key) => `${options.prefix}${key}`), windowSeconds),
              "eval sign_in_failures"
            )
            .pipe(
              Effect.flatMap(Schema.decodeUnknown(Counts)),
              Effect.mapError((cause) => new FailureCountsUnavailable({ cause }))
            )
      })
    )
  )

/** The largest number of keys kept in memory: beyond, the oldest window is dropped. */
const MEMORY_KEYS = 100_000

/** A key's window in memory. */
export interface MemoryWindow {
  count: number
  readonly expiresAt: number
}

/**
 * The counters in process memory, timed by `Clock`, at most `maxKeys` keys. `windows` holds them in the order
 * their windows opened (a reopened key is moved to the end), which with one window length is the order they
 * expire in: each count first drops the expired windows at the front, stopping at the first live one, then
 * the oldest while the map is full — every window is visited once more than it is kept, so a count costs
 * O(1) amortised however many keys are held (a scan of them all per new key was O(keys)).
 */
export const makeFailureCountsMemory = (
  maxKeys: number = MEMORY_KEYS,
  windows: Map<string, MemoryWindow> = new Map()
) => {
  const sweep = (now: number) => {
    const front = windows.entries()
    for (let next = front.next(); !next.done; next = front.next()) {
      const [key, entry] = next.value
      if (entry.expiresAt > now && windows.size < maxKeys) break
      windows.delete(key)
    }
  }
  return FailureCounts.of({
    add: (keys, windowSeconds) =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        keys.map((key) => {
          const entry = windows.get(key)
          if (entry !== undefined && entry.expiresAt > now) return ++entry.count
          windows.delete(key)
          sweep(now)
          windows.set(key, { count: 1, expiresAt: now + windowSeconds * 1000 })
          return 1
        })
      )
  })
}

/** The same counters in process memory (the embedded default without Redis, tests). */
export const FailureCountsMemory = Layer.sync(FailureCounts, () => makeFailureCountsMemory())

export class SignInBursts extends Effect.Service<SignInBursts>()("server/SignInBursts", {
  effect: Effect.gen(function* () {
    const { audit: settings } = yield* AppConfig
    const counts = yield* FailureCounts
    const audit = yield* AuditTrail
    const { signInBurstThreshold: threshold, signInBurstWindowSeconds: windowSeconds } = settings

    /** One failed sign-in for this e-mail from this address; a row when it makes a burst of either. */
    const failed = (email: string, clientAddress: string) =>
      Effect.gen(function* () {
        const address = email.toLowerCase()
        const [byEmail = 0, byAddress = 0] = yield* counts.add(
          [`email:${address}`, `address:${clientAddress}`],
          windowSeconds
        )
        const emailBurst = byEmail === threshold
        const addressBurst = byAddress === threshold
        if (!emailBurst && !addressBurst) return
        yield* audit.recordEvent({
          action: "auth.sign_in_failed_burst",
          entity: "sign_in",
          entityId: emailBurst ? address : clientAddress,
          changes: {
            count: { after: Math.max(emailBurst ? byEmail : 0, addressBurst ? byAddress : 0) },
            by: { after: [...(emailBurst ? ["email"] : []), ...(addressBurst ? ["client_address"] : [])] },
            email: { after: address },
            client_address: { after: clientAddress },
            window_seconds: { after: windowSeconds }
          }
        })
      }).pipe(
        Effect.catchAllCause((cause) =>
          Effect.logWarning("sign-in failure not counted for the audit log", cause).pipe(
            Effect.annotateLogs("client_address", clientAddress)
          )
        )
      )

    return { failed, threshold, windowSeconds } as const
  })
}) {}

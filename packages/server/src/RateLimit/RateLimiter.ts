/**
 * The rate limiter (D4): a sliding window per key, shared by every replica through Redis — one atomic
 * Lua script per check, timed by Redis's own clock so replicas agree — or in process memory (tests and
 * the embedded default). A check may name several keys (the per-client API limit and the per-path auth
 * limit): the request is counted in all of them or, if any is exhausted, in none.
 */
import { Redis } from "@shum/infra/Redis"
import { Array as Arr, Clock, Duration, Effect, Layer, Schema } from "effect"

export interface Policy {
  readonly key: string
  readonly limit: number
}

export interface PolicyState {
  readonly limit: number
  /** Requests left in the window after this one. */
  readonly remaining: number
  /** Milliseconds until the window frees one request. */
  readonly resetMs: number
}

export interface Decision {
  readonly allowed: boolean
  /** The state of the most restrictive policy (fewest requests left): what the `RateLimit-*` headers say. */
  readonly binding: PolicyState
  /** When denied: milliseconds until every exhausted policy admits a request again. */
  readonly retryAfterMs: number
}

/** The limiter's store did not answer: the caller decides (the HTTP middleware lets the request through). */
export class RateLimiterUnavailable extends Schema.TaggedError<RateLimiterUnavailable>()("RateLimiterUnavailable", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

export class RateLimiter extends Effect.Tag("server/RateLimiter")<
  RateLimiter,
  {
    readonly consume: (
      policies: Arr.NonEmptyReadonlyArray<Policy>,
      window: Duration.DurationInput
    ) => Effect.Effect<Decision, RateLimiterUnavailable>
    /** Whether the store answers (for `/health/detailed`); always true in memory. */
    readonly available: Effect.Effect<boolean>
  }
>() {}

const decide = (allowed: boolean, states: Arr.NonEmptyReadonlyArray<PolicyState>): Decision => {
  const binding = states.reduce((a, b) =>
    b.remaining < a.remaining || (b.remaining === a.remaining && b.resetMs > a.resetMs) ? b : a
  )
  const exhausted = states.filter((s) => s.remaining === 0)
  return {
    allowed,
    binding,
    retryAfterMs: allowed ? 0 : Math.max(0, ...exhausted.map((s) => s.resetMs))
  }
}

// KEYS: one sorted set per policy (member = request, score = its time). ARGV[1] window (ms), ARGV[2] a
// unique member for this request, ARGV[3..] the limits. Returns {allowed, remaining1, reset1, …}.
const SLIDING_WINDOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local counts = {}
local allowed = 1
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  counts[i] = redis.call('ZCARD', key)
  if counts[i] >= tonumber(ARGV[i + 2]) then allowed = 0 end
end
local result = {allowed}
for i, key in ipairs(KEYS) do
  local count = counts[i]
  if allowed == 1 then
    redis.call('ZADD', key, now, ARGV[2])
    redis.call('PEXPIRE', key, window)
    count = count + 1
  end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  local reset = window
  if oldest[2] then reset = tonumber(oldest[2]) + window - now end
  local remaining = tonumber(ARGV[i + 2]) - count
  if remaining < 0 then remaining = 0 end
  result[2 * i] = remaining
  result[2 * i + 1] = reset
end
return result`

const Reply = Schema.Array(Schema.Number)

/** Redis keys share the client's hash tag, so one script's keys live in one cluster slot. */
export const RateLimiterRedis = (options: { readonly prefix: string } = { prefix: "shum:rl:" }) =>
  Layer.effect(
    RateLimiter,
    Effect.gen(function* () {
      const redis = yield* Redis
      return RateLimiter.of({
        consume: (policies, window) =>
          redis
            .use(
              (c) =>
                // while the connection is down, fail at once (the caller lets the request through)
                // rather than wait in the offline queue for a reconnection
                c.status !== "ready"
                  ? Promise.reject(new Error(`Redis connection is ${c.status}`))
                  : c.eval(
                      SLIDING_WINDOW,
                      policies.length,
                      ...policies.map((p) => `${options.prefix}${p.key}`),
                      Duration.toMillis(window),
                      crypto.randomUUID(),
                      ...policies.map((p) => p.limit)
                    ),
              "eval rate_limit"
            )
            .pipe(
              Effect.flatMap(Schema.decodeUnknown(Reply)),
              Effect.map((reply) =>
                decide(
                  reply[0] === 1,
                  Arr.map(policies, (p, i) => ({
                    limit: p.limit,
                    remaining: Number(reply[2 * i + 1]),
                    resetMs: Number(reply[2 * i + 2])
                  }))
                )
              ),
              Effect.mapError(
                (error) => new RateLimiterUnavailable({ message: "rate limiter store unavailable", cause: error })
              )
            ),
        available: redis.ping.pipe(
          Effect.as(true),
          Effect.catchAllCause(() => Effect.succeed(false))
        )
      })
    })
  )

/** Same contract in process memory, timed by `Clock` (so `TestClock` drives it in tests). */
export const RateLimiterMemory = Layer.sync(RateLimiter, () => {
  const windows = new Map<string, { readonly hits: Array<number>; expiresAt: number }>()
  let checks = 0
  const sweep = (now: number) => {
    for (const [key, entry] of windows) if (entry.expiresAt <= now) windows.delete(key)
  }
  return RateLimiter.of({
    consume: (policies, window) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const windowMs = Duration.toMillis(window)
        if (++checks % 1000 === 0) sweep(now)
        const entries = Arr.map(policies, (p) => {
          const entry = windows.get(p.key) ?? { hits: [], expiresAt: 0 }
          while (entry.hits.length > 0 && entry.hits[0]! <= now - windowMs) entry.hits.shift()
          windows.set(p.key, entry)
          return entry
        })
        const allowed = policies.every((p, i) => entries[i]!.hits.length < p.limit)
        const states = Arr.map(policies, (p, i) => {
          const entry = entries[i]!
          if (allowed) {
            entry.hits.push(now)
            entry.expiresAt = now + windowMs
          }
          const oldest = entry.hits[0]
          return {
            limit: p.limit,
            remaining: Math.max(0, p.limit - entry.hits.length),
            resetMs: oldest === undefined ? windowMs : oldest + windowMs - now
          }
        })
        return decide(allowed, states)
      }),
    available: Effect.succeed(true)
  })
})

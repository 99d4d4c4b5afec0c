/**
 * The job stream's delivery contract (D5), the same for the Redis stream (the real Redis) and the
 * in-memory one: acknowledgement, retries with backoff, dead-lettering, redelivery of a job whose handler
 * died, takeover of a dead consumer's job, finishing the job in hand on shutdown, heartbeats, trace context.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  type ConsumeOptions,
  defaultSettings,
  type GroupCreated,
  ImageJob,
  ImageJobs,
  type ImageJobsSettings,
  JobFailed,
  keys
} from "@shum/infra/ImageJobs"
import * as ImageJobsMemory from "@shum/infra/ImageJobsMemory"
import * as ImageJobsRedis from "@shum/infra/ImageJobsRedis"
import { Redis } from "@shum/infra/Redis"
import { currentTraceparent } from "@shum/infra/Traceparent"
import { deleteImageStream, randomName, redisConnection } from "@shum/infra/Testing"
import { Duration, Effect, Fiber, Layer, Logger, LogLevel, Option, Ref, Schedule, type Scope } from "effect"

const settingsFor = (prefix: string, overrides: Partial<ImageJobsSettings> = {}): ImageJobsSettings => ({
  ...defaultSettings,
  prefix,
  heartbeatsKey: `${prefix}:heartbeats`,
  maxAttempts: 3,
  retryDelay: Duration.millis(200),
  visibilityTimeout: Duration.millis(800),
  jobTimeout: Duration.millis(700),
  shutdownGrace: Duration.seconds(5),
  ...overrides
})

const RedisLive = Redis.layer(redisConnection)

/** Removes the test's keys afterwards. */
const cleanup = (prefix: string) =>
  Effect.addFinalizer(() =>
    deleteImageStream(prefix, `${prefix}:heartbeats`).pipe(Effect.provide(RedisLive), Effect.ignore)
  )

const backends = [
  { name: "redis", layer: (s: ImageJobsSettings) => ImageJobsRedis.layer(s).pipe(Layer.provide(RedisLive)) },
  { name: "memory", layer: (s: ImageJobsSettings) => ImageJobsMemory.layer(s) }
] as const

/** Waits (real time) until `check` holds, up to 20 s. */
const eventually = <E, R>(what: string, check: Effect.Effect<boolean, E, R>) =>
  check.pipe(
    Effect.filterOrFail(
      (ok) => ok,
      () => what
    ),
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("20 seconds"))),
    Effect.orDieWith((e) => new Error(`timed out waiting: ${String(e)}`))
  )

/** The failures are the point of these tests: their log lines are not wanted. */
const quiet = Effect.provide(Logger.minimumLogLevel(LogLevel.None))

const job = (id: number) => new ImageJob({ image_id: id, name: `${id}.jpg` })

/** Runs a consumer in the background of the test's scope. */
const consumeInBackground = <R>(options: ConsumeOptions<R>) =>
  Effect.flatMap(ImageJobs, (jobs) => Effect.forkScoped(jobs.consume(options)))

for (const backend of backends) {
  describe(`image job stream (${backend.name})`, () => {
    const run = <A, E>(settings: ImageJobsSettings, test: Effect.Effect<A, E, ImageJobs | Scope.Scope>) =>
      Effect.gen(function* () {
        yield* cleanup(settings.prefix)
        return yield* test
      }).pipe(Effect.provide(backend.layer(settings)), Effect.scoped, quiet)

    it.live("each job is handled once, acknowledged and gone from the stream", () => {
      const settings = settingsFor(randomName("shum:test:jobs:"))
      return run(
        settings,
        Effect.gen(function* () {
          const jobs = yield* ImageJobs
          const handled = yield* Ref.make<Array<number>>([])
          yield* consumeInBackground({
            consumer: randomName("c-"),
            concurrency: 2,
            handle: (j, attempt) => Ref.update(handled, (all) => [...all, j.image_id * 10 + attempt]),
            onDeadLetter: () => Effect.die("not expected")
          })
          for (const id of [1, 2, 3]) yield* jobs.enqueue(job(id))
          yield* eventually(
            "3 jobs",
            Effect.map(Ref.get(handled), (all) => all.length === 3)
          )
          yield* Effect.sleep("1200 millis") // past the visibility timeout: nothing comes again
          assert.deepStrictEqual([...(yield* Ref.get(handled))].sort(), [11, 21, 31])
          assert.deepStrictEqual(yield* jobs.deadLetters, [])
          if (backend.name === "redis") {
            const k = keys(settings.prefix)
            const [length, pending] = yield* Effect.flatMap(Redis, (redis) =>
              redis.use((c) => Promise.all([c.xlen(k.stream), c.xpending(k.stream, k.group)]))
            ).pipe(Effect.provide(RedisLive))
            assert.strictEqual(length, 0)
            assert.strictEqual((pending as [number])[0], 0)
          }
        })
      )
    })

    it.live("a failing job is retried with growing delays, then dead-lettered once after the last attempt", () => {
      const settings = settingsFor(randomName("shum:test:jobs:"))
      return run(
        settings,
        Effect.gen(function* () {
          const jobs = yield* ImageJobs
          const attempts = yield* Ref.make<Array<[number, number]>>([])
          const dead = yield* Ref.make<Array<string>>([])
          yield* consumeInBackground({
            consumer: randomName("c-"),
            concurrency: 1,
            handle: (_, attempt) =>
              Effect.zipRight(
                Effect.flatMap(
                  Effect.clockWith((c) => c.currentTimeMillis),
                  (now) => Ref.update(attempts, (all) => [...all, [attempt, now] as [number, number]])
                ),
                Effect.fail(new JobFailed({ reason: `boom ${attempt}` }))
              ),
            onDeadLetter: (j, reason) => Ref.update(dead, (all) => [...all, `${j.image_id}: ${reason}`])
          })
          yield* jobs.enqueue(job(7))
          yield* eventually(
            "a dead letter",
            Effect.map(jobs.deadLetters, (all) => all.length === 1)
          )
          const seen = yield* Ref.get(attempts)
          assert.deepStrictEqual(
            seen.map(([attempt]) => attempt),
            [1, 2, 3]
          )
          assert.isAtLeast(seen[1]![1] - seen[0]![1], 190, "first retry after ~200 ms")
          assert.isAtLeast(seen[2]![1] - seen[1]![1], 390, "second retry after ~400 ms")
          assert.deepStrictEqual(yield* Ref.get(dead), ["7: boom 3"])
          const [letter] = yield* jobs.deadLetters
          assert.deepStrictEqual([letter!.reason, letter!.attempts], ["boom 3", 3])
          assert.include(letter!.payload, '"image_id":7')
        })
      )
    })

    it.live("a job whose handler died is delivered again after the visibility timeout, as the next attempt", () => {
      const settings = settingsFor(randomName("shum:test:jobs:"))
      return run(
        settings,
        Effect.gen(function* () {
          const jobs = yield* ImageJobs
          const attempts = yield* Ref.make<Array<number>>([])
          yield* consumeInBackground({
            consumer: randomName("c-"),
            concurrency: 1,
            handle: (_, attempt) =>
              Effect.zipRight(
                Ref.update(attempts, (all) => [...all, attempt]),
                attempt === 1 ? Effect.die(new Error("the database went away")) : Effect.void
              ),
            onDeadLetter: () => Effect.die("not expected")
          })
          const started = Date.now()
          yield* jobs.enqueue(job(8))
          yield* eventually(
            "the second attempt",
            Effect.map(Ref.get(attempts), (all) => all.length === 2)
          )
          assert.deepStrictEqual(yield* Ref.get(attempts), [1, 2])
          assert.isAtLeast(Date.now() - started, 700)
        })
      )
    })

    it.live("on interruption (shutdown) the job in hand finishes and is acknowledged", () => {
      const settings = settingsFor(randomName("shum:test:jobs:"), {
        jobTimeout: Duration.seconds(5),
        visibilityTimeout: Duration.seconds(10)
      })
      return run(
        settings,
        Effect.gen(function* () {
          const jobs = yield* ImageJobs
          const state = yield* Ref.make<"idle" | "started" | "finished">("idle")
          const consumer = yield* Effect.fork(
            jobs.consume({
              consumer: randomName("c-"),
              concurrency: 1,
              handle: () =>
                Effect.zipRight(
                  Ref.set(state, "started"),
                  Effect.zipRight(Effect.sleep("400 millis"), Ref.set(state, "finished"))
                ),
              onDeadLetter: () => Effect.die("not expected")
            })
          )
          yield* jobs.enqueue(job(9))
          yield* eventually(
            "the job to start",
            Effect.map(Ref.get(state), (s) => s === "started")
          )
          yield* Fiber.interrupt(consumer)
          assert.strictEqual(yield* Ref.get(state), "finished", "interruption waited for the job")
          if (backend.name === "redis") {
            const k = keys(settings.prefix)
            const pending = yield* Effect.flatMap(Redis, (redis) =>
              redis.use((c) => c.xpending(k.stream, k.group))
            ).pipe(Effect.provide(RedisLive))
            assert.strictEqual((pending as [number])[0], 0, "acknowledged")
          }
        })
      )
    })

    it.live("on interruption, a job running past the shutdown grace is released at the grace, not waited for", () => {
      const settings = settingsFor(randomName("shum:test:jobs:"), {
        jobTimeout: Duration.seconds(30),
        visibilityTimeout: Duration.seconds(40),
        shutdownGrace: Duration.millis(300)
      })
      return run(
        settings,
        Effect.gen(function* () {
          const jobs = yield* ImageJobs
          const state = yield* Ref.make<"idle" | "started" | "finished" | "released">("idle")
          const consumer = yield* Effect.fork(
            jobs.consume({
              consumer: randomName("c-"),
              concurrency: 1,
              handle: () =>
                Effect.zipRight(
                  Ref.set(state, "started"),
                  Effect.zipRight(Effect.sleep("20 seconds"), Ref.set(state, "finished"))
                ).pipe(Effect.onInterrupt(() => Ref.set(state, "released"))),
              onDeadLetter: () => Effect.die("not expected")
            })
          )
          yield* jobs.enqueue(job(10))
          yield* eventually(
            "the job to start",
            Effect.map(Ref.get(state), (s) => s === "started")
          )
          const started = Date.now()
          // the grace's timeout runs where interruption is off (a handler of interruption): it must still end the wait
          yield* Fiber.interrupt(consumer).pipe(
            Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "the shutdown waited past its grace" })
          )
          assert.isAtLeast(Date.now() - started, 250, "the job had its grace")
          assert.strictEqual(yield* Ref.get(state), "released", "the job was interrupted, not finished")
          if (backend.name === "redis") {
            const k = keys(settings.prefix)
            const pending = yield* Effect.flatMap(Redis, (redis) =>
              redis.use((c) => c.xpending(k.stream, k.group))
            ).pipe(Effect.provide(RedisLive))
            assert.strictEqual((pending as [number])[0], 1, "left unacknowledged, to be delivered again")
          }
        })
      )
    })

    it.live("heartbeats: the workers that beat, sorted; a retired one is gone at once", () => {
      const settings = settingsFor(randomName("shum:test:jobs:"))
      return run(
        settings,
        Effect.gen(function* () {
          const jobs = yield* ImageJobs
          yield* jobs.heartbeat("worker@b")
          yield* jobs.heartbeat("worker@a")
          assert.deepStrictEqual(yield* jobs.workers, ["worker@a", "worker@b"])
          yield* jobs.retire("worker@b")
          assert.deepStrictEqual(yield* jobs.workers, ["worker@a"])
        })
      )
    })

    it.live("the job carries the queuing request's trace: its processing joins that trace", () => {
      const settings = settingsFor(randomName("shum:test:jobs:"))
      return run(
        settings,
        Effect.gen(function* () {
          const jobs = yield* ImageJobs
          const traces = yield* Ref.make<Array<string>>([])
          yield* consumeInBackground({
            consumer: randomName("c-"),
            concurrency: 1,
            handle: () =>
              Effect.withSpan(
                Effect.flatMap(Effect.currentSpan, (span) => Ref.update(traces, (all) => [...all, span.traceId])),
                "process"
              ).pipe(Effect.orDie),
            onDeadLetter: () => Effect.die("not expected")
          })
          const traceId = yield* Effect.gen(function* () {
            const traceparent = yield* currentTraceparent
            yield* jobs.enqueue(new ImageJob({ image_id: 10, name: "t.jpg", ...(traceparent ? { traceparent } : {}) }))
            return (yield* Effect.currentSpan).traceId
          }).pipe(Effect.withSpan("upload"), Effect.orDie)
          yield* eventually(
            "the job",
            Effect.map(Ref.get(traces), (all) => all.length === 1)
          )
          assert.deepStrictEqual(yield* Ref.get(traces), [traceId])
        })
      )
    })
  })
}

describe("image job stream (redis): a dead consumer", () => {
  it.live("its delivered, unacknowledged job is taken over with XAUTOCLAIM after the visibility timeout", () => {
    const settings = settingsFor(randomName("shum:test:jobs:"))
    return Effect.gen(function* () {
      yield* cleanup(settings.prefix)
      const jobs = yield* ImageJobs
      const redis = yield* Redis
      const k = keys(settings.prefix)
      yield* jobs.enqueue(job(11))
      // a consumer that reads the job and dies without acknowledging it
      yield* redis.use((c) => c.xgroup("CREATE", k.stream, k.group, "0", "MKSTREAM")).pipe(Effect.ignore)
      const read = yield* redis.use((c) =>
        c.xreadgroup("GROUP", k.group, "ghost/0", "COUNT", 1, "STREAMS", k.stream, ">")
      )
      assert.isNotNull(read)
      const seen = yield* Ref.make<Array<number>>([])
      yield* consumeInBackground({
        consumer: randomName("alive-"),
        concurrency: 1,
        handle: (_, attempt) => Ref.update(seen, (all) => [...all, attempt]),
        onDeadLetter: () => Effect.die("not expected")
      })
      yield* eventually(
        "the takeover",
        Effect.map(Ref.get(seen), (all) => all.length === 1)
      )
      assert.deepStrictEqual(yield* Ref.get(seen), [2], "the ghost's delivery counts as the first attempt")
      const pending = yield* redis.use((c) => c.xpending(k.stream, k.group))
      assert.strictEqual((pending as [number])[0], 0)
    }).pipe(Effect.provide(ImageJobsRedis.layer(settings).pipe(Layer.provideMerge(RedisLive))), Effect.scoped, quiet)
  })
})

describe("image job stream (redis): the stream lost with its consumer group", () => {
  it.live("a reader meeting NOGROUP creates the group again at once, says so, and reads the new jobs", () => {
    const settings = settingsFor(randomName("shum:test:jobs:"))
    return Effect.gen(function* () {
      yield* cleanup(settings.prefix)
      const jobs = yield* ImageJobs
      const redis = yield* Redis
      const k = keys(settings.prefix)
      const events = yield* Ref.make<Array<GroupCreated>>([])
      const reads = yield* Ref.make<Array<string>>([])
      const handled = yield* Ref.make<Array<number>>([])
      yield* jobs.enqueue(job(1)) // queued before any worker: read once the group exists
      yield* consumeInBackground({
        consumer: randomName("c-"),
        concurrency: 2,
        handle: (j) => Ref.update(handled, (all) => [...all, j.image_id]),
        onDeadLetter: () => Effect.die("not expected"),
        onRead: (reader, failure) =>
          Ref.update(reads, (all) => [...all, `${reader}:${Option.getOrElse(failure, () => "ok")}`]),
        onGroupCreated: (event) => Ref.update(events, (all) => [...all, event])
      })
      yield* eventually(
        "the first job",
        Effect.map(Ref.get(handled), (all) => all.length === 1)
      )
      assert.deepStrictEqual(yield* Ref.get(events), [{ atStart: true, queued: new Set([1]) }])

      // Redis restarted empty: the stream, its group and its jobs are gone; an upload appends meanwhile
      yield* redis.use((c) => c.del(k.stream))
      yield* redis.use((c) => c.xadd(k.stream, "*", "job", JSON.stringify({ image_id: 2, name: "2.jpg", attempt: 1 })))
      yield* eventually(
        "the group created again",
        Effect.map(Ref.get(events), (all) => all.length === 2)
      )
      assert.deepStrictEqual((yield* Ref.get(events))[1], { atStart: false, queued: new Set([2]) })
      assert.isTrue(
        (yield* Ref.get(reads)).some((r) => /NOGROUP|UNBLOCKED/.test(r)),
        `the failed read was reported: ${(yield* Ref.get(reads)).join(" | ")}`
      )
      yield* jobs.enqueue(job(3))
      yield* eventually(
        "the jobs after the loss",
        Effect.map(Ref.get(handled), (all) => all.length === 3)
      )
      assert.deepStrictEqual([...(yield* Ref.get(handled))].sort(), [1, 2, 3])
      const last = Effect.map(
        Ref.get(reads),
        (all) => new Map(all.map((r) => [r.split(":")[0], r.slice(r.indexOf(":") + 1)]))
      )
      yield* eventually(
        "every reader to read again",
        Effect.map(last, (byReader) => [...byReader.values()].join() === "ok,ok")
      )
    }).pipe(Effect.provide(ImageJobsRedis.layer(settings).pipe(Layer.provideMerge(RedisLive))), Effect.scoped, quiet)
  })
})

/**
 * The image job stream on Redis (D5): a stream `<prefix>:jobs` read by the consumer group `image-workers`.
 *
 * Each reader has its own connection for the blocking `XREADGROUP` and, in this order, looks for:
 * 1. delayed retries that are due (`<prefix>:delayed`, a sorted set by due time, moved to the stream by a
 *    script), 2. a job some reader left unacknowledged for the visibility timeout (`XAUTOCLAIM`: a crashed
 *    worker's), 3. its own pending jobs after a restart (same consumer name), 4. new jobs (`>`, blocking 1 s).
 * The attempt number is the job's own plus its redeliveries (`XPENDING`'s delivery count).
 * A reader that meets `NOGROUP` (Redis restarted empty, a failover to a fresh replica, the stream deleted)
 * creates the group again at once, logs a warning and tells `onGroupCreated`, which queues the lost jobs again. Acknowledging,
 * retrying and dead-lettering are scripts that remove the entry and write its successor atomically.
 * Completions are published on `<prefix>:settled` for the waiting uploads. What becomes of a delivery is
 * `ImageJobDelivery.settle`'s decision; this file supplies its steps (`deliveryOps`).
 */
import { Duration, Effect, Layer, Option, PubSub, Schema, type Scope } from "effect"
import type { Redis as IORedis } from "ioredis"
import { imageJobSettings } from "./Config.js"
import { type Delivery, type DeliveryOps, finishWithin, settle } from "./ImageJobDelivery.js"
import {
  type ConsumeOptions,
  type DeadLetter,
  HEARTBEAT_TTL,
  type ImageJob,
  ImageJobJson,
  ImageJobs,
  ImageJobsError,
  type ImageJobsSettings,
  keys
} from "./ImageJobs.js"
import { Redis } from "./Redis.js"

const MAXLEN = 100_000
const DEAD_MAXLEN = 10_000
const BLOCK_MS = 1000

const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

// KEYS: stream. ARGV: group, id.
const ACK = `redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])`

// KEYS: stream, delayed. ARGV: group, id, delay ms, next payload.
const RETRY = `${NOW_MS}
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[4])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])`

// KEYS: stream, dead. ARGV: group, id, payload, reason, attempts, maxlen.
const DEAD_LETTER = `redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*',
  'job', ARGV[3], 'reason', ARGV[4], 'attempts', ARGV[5], 'entry', ARGV[2])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])`

// KEYS: delayed, stream. ARGV: how many, maxlen.
const PROMOTE = `${NOW_MS}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, payload in ipairs(due) do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'job', payload)
  redis.call('ZREM', KEYS[1], payload)
end
return #due`

// KEYS: heartbeats. ARGV: worker. Same contract as server/System/WorkerStatus.ts.
const HEARTBEAT = `${NOW_MS}
redis.call('ZADD', KEYS[1], now, ARGV[1])
return 1`

// KEYS: heartbeats. ARGV: ttl ms.
const ALIVE = `${NOW_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), '+inf')`

const Fields = Schema.NullOr(Schema.Array(Schema.String))
const Entry = Schema.Tuple(Schema.String, Fields)
const ReadReply = Schema.NullOr(Schema.Array(Schema.Tuple(Schema.String, Schema.Array(Entry))))
const ClaimReply = Schema.Tuple([Schema.String, Schema.Array(Entry)], Schema.Unknown)
const PendingReply = Schema.Array(Schema.Tuple(Schema.String, Schema.String, Schema.Number, Schema.Number))
const DeadReply = Schema.Array(Entry)

const field = (fields: ReadonlyArray<string> | null, name: string): string | undefined => {
  if (fields === null) return undefined
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]
  return undefined
}

const failure = (message: string) => (cause: unknown) => new ImageJobsError({ message, cause })

/** The messages of an error and its causes (Redis replies arrive wrapped: ImageJobsError → RedisError → ReplyError). */
const describe = (error: unknown): string => {
  const parts: Array<string> = []
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    parts.push(
      e instanceof Error || (typeof e === "object" && "message" in e) ? String((e as Error).message) : String(e)
    )
    e = typeof e === "object" && "cause" in e ? (e as { cause?: unknown }).cause : undefined
  }
  return parts.join(": ")
}

// ---------------------------------------------------------------------------------------------------------
// The stream's keys and the commands on it, shared by every part below.

interface Stream {
  readonly settings: ImageJobsSettings
  readonly k: ReturnType<typeof keys>
  readonly redis: Redis
  readonly command: <A>(operation: string, f: (client: IORedis) => Promise<A>) => Effect.Effect<A, ImageJobsError>
  readonly script: (
    operation: string,
    source: string,
    keys: ReadonlyArray<string>,
    args: ReadonlyArray<string | number>
  ) => Effect.Effect<unknown, ImageJobsError>
}

const streamOf = (redis: Redis, settings: ImageJobsSettings): Stream => {
  const command: Stream["command"] = (operation, f) =>
    redis.use(f, operation).pipe(Effect.mapError(failure(`Redis ${operation} failed`)))
  return {
    settings,
    k: keys(settings.prefix),
    redis,
    command,
    script: (operation, source, keys, args) =>
      command(`eval ${operation}`, (c) => c.eval(source, keys.length, ...keys, ...args))
  }
}

/** Completions reach waiting uploads through a subscriber connection of its own, fanned out by a hub. */
const settledHub = ({
  k,
  redis,
  settings
}: Stream): Effect.Effect<PubSub.PubSub<number>, ImageJobsError, Scope.Scope> =>
  Effect.gen(function* () {
    const hub = yield* PubSub.unbounded<number>()
    const subscriber = yield* redis
      .dedicated(`${settings.prefix}:settled`)
      .pipe(Effect.mapError(failure("Redis subscriber")))
    subscriber.on("message", (channel: string, message: string) => {
      const id = Number(message)
      if (channel === k.settled && Number.isSafeInteger(id)) Effect.runSync(PubSub.publish(hub, id))
    })
    yield* Effect.tryPromise({ try: () => subscriber.subscribe(k.settled), catch: failure("Redis SUBSCRIBE failed") })
    return hub
  })

// ---------------------------------------------------------------------------------------------------------
// The consumer group.

/** Creates the consumer group (and the stream): true when it did, false when the group existed. */
const ensureGroup = ({ command, k }: Stream): Effect.Effect<boolean, ImageJobsError> =>
  command("xgroup create", (c) => c.xgroup("CREATE", k.stream, k.group, "0", "MKSTREAM")).pipe(
    Effect.as(true),
    Effect.catchIf(
      (error) => describe(error).includes("BUSYGROUP"),
      () => Effect.succeed(false)
    )
  )

/** The images whose jobs are in the stream or among the delayed retries (at most 10 000 of each). */
const queuedImages = ({ command, k }: Stream) =>
  Effect.gen(function* () {
    const [entries, delayed] = yield* command("xrange image_jobs", (c) =>
      Promise.all([c.xrange(k.stream, "-", "+", "COUNT", 10_000), c.zrange(k.delayed, 0, 9_999)])
    )
    const ids = new Set<number>()
    for (const payload of [...entries.map(([, fields]) => field(fields, "job") ?? ""), ...delayed]) {
      Option.map(Schema.decodeUnknownOption(ImageJobJson)(payload), (job) => ids.add(job.image_id))
    }
    return ids as ReadonlySet<number>
  })

/** Logs the group's creation and tells `onGroupCreated` which images are queued now. */
const groupCreated = <R>(stream: Stream, options: ConsumeOptions<R>, atStart: boolean) =>
  Effect.gen(function* () {
    const { k } = stream
    if (atStart) yield* Effect.logInfo(`created the consumer group ${k.group} of ${k.stream}`)
    else {
      yield* Effect.logWarning(
        `the image job stream ${k.stream} had lost its consumer group (Redis restarted empty, a failover to ` +
          `a fresh replica, or the stream was deleted): created it again; the jobs it held are gone, the ` +
          `pending images are queued again`
      )
    }
    const queued = yield* queuedImages(stream).pipe(
      Effect.tapError((error) => Effect.logWarning(`cannot list the queued image jobs: ${describe(error)}`)),
      Effect.orElseSucceed((): ReadonlySet<number> => new Set())
    )
    if (options.onGroupCreated) yield* options.onGroupCreated({ atStart, queued })
  })

/** The group is gone (Redis lost its data): create it again at once (then the reader reads on). */
const regroup = <R>(stream: Stream, options: ConsumeOptions<R>) =>
  ensureGroup(stream).pipe(
    Effect.flatMap((created) => (created ? groupCreated(stream, options, false) : Effect.void)),
    Effect.catchAll((error) =>
      Effect.logWarning(`cannot create the image consumer group again: ${describe(error)}`).pipe(
        Effect.zipRight(Effect.sleep("1 second"))
      )
    )
  )

// ---------------------------------------------------------------------------------------------------------
// Deliveries: an entry read from the stream, and the atomic steps that settle it.

/** How often the entry has been delivered (`XPENDING`'s delivery count). */
const deliveriesOf = ({ command, k }: Stream, entryId: string) =>
  command("xpending", (c) => c.xpending(k.stream, k.group, entryId, entryId, 1)).pipe(
    Effect.flatMap(Schema.decodeUnknown(PendingReply)),
    Effect.map((rows) => rows[0]?.[3] ?? 1),
    Effect.mapError(failure("Redis XPENDING reply"))
  )

const toDelivery = ([id, fields]: typeof Entry.Type, deliveries: number): Delivery => {
  const payload = field(fields, "job") ?? ""
  const job = Schema.decodeUnknownOption(ImageJobJson)(payload)
  return {
    id,
    payload,
    job,
    attempt: Option.match(job, { onNone: () => deliveries, onSome: (j) => j.attempt }) + deliveries - 1
  }
}

/** An entry delivered before (claimed, or this reader's own after a restart): its attempt counts them. */
const redelivered = (stream: Stream, entry: typeof Entry.Type) =>
  Effect.map(deliveriesOf(stream, entry[0]), (n) => toDelivery(entry, n))

const deliveryOps = ({ k, script }: Stream): DeliveryOps => ({
  ack: (d) => script("image_jobs_ack", ACK, [k.stream], [k.group, d.id]).pipe(Effect.asVoid),
  retry: (d, job, delay) =>
    Effect.flatMap(Schema.encode(ImageJobJson)(job).pipe(Effect.orDie), (payload) =>
      script(
        "image_jobs_retry",
        RETRY,
        [k.stream, k.delayed],
        [k.group, d.id, Math.round(Duration.toMillis(delay)), payload]
      )
    ).pipe(Effect.asVoid),
  deadLetter: (d, reason) =>
    script(
      "image_jobs_dead_letter",
      DEAD_LETTER,
      [k.stream, k.dead],
      [k.group, d.id, d.payload, reason, d.attempt, DEAD_MAXLEN]
    ).pipe(Effect.asVoid)
})

// ---------------------------------------------------------------------------------------------------------
// A reader: its own connection for the blocking read, the order in which it looks for work, its loop.

/** The reader's connection, retried every second until Redis answers. */
const readerConnection = ({ redis }: Stream, consumer: string) =>
  redis.dedicated(`image-worker:${consumer}`).pipe(
    Effect.tapError((error) => Effect.logWarning(`image job reader cannot connect: ${describe(error)}`)),
    Effect.tapError(() => Effect.sleep("1 second")),
    Effect.eventually
  )

/** `XREADGROUP` of one entry: new ones (`>`, blocking) or this consumer's pending ones from an id. */
const readGroup = ({ k }: Stream, connection: IORedis, consumer: string, from: string) =>
  Effect.tryPromise({
    try: () =>
      from === ">"
        ? connection.xreadgroup("GROUP", k.group, consumer, "COUNT", 1, "BLOCK", BLOCK_MS, "STREAMS", k.stream, ">")
        : connection.xreadgroup("GROUP", k.group, consumer, "COUNT", 1, "STREAMS", k.stream, from),
    catch: failure("Redis xreadgroup failed")
  }).pipe(
    Effect.flatMap(Schema.decodeUnknown(ReadReply)),
    Effect.mapError(failure("Redis XREADGROUP reply")),
    Effect.map((reply) => Option.fromNullable(reply?.[0]?.[1][0]))
  )

/** `XAUTOCLAIM` of one entry left unacknowledged past the visibility timeout (a crashed worker's). */
const claim = ({ command, k, settings }: Stream, consumer: string) =>
  command("xautoclaim", (c) =>
    c.xautoclaim(
      k.stream,
      k.group,
      consumer,
      Math.round(Duration.toMillis(settings.visibilityTimeout)),
      "0-0",
      "COUNT",
      1
    )
  ).pipe(
    Effect.flatMap(Schema.decodeUnknown(ClaimReply)),
    Effect.mapError(failure("Redis XAUTOCLAIM reply")),
    Effect.map(([, entries]) => Option.fromNullable(entries[0]))
  )

/**
 * The reader's next delivery, in order: due delayed retries are moved into the stream, then a claimed
 * entry, then this consumer's own pending entries (`backlog`: after a restart under the same name they
 * come first; `restart` reads them again), then a new one.
 */
const deliveries = (stream: Stream, connection: IORedis, consumer: string) => {
  const promote = stream.script("image_jobs_promote", PROMOTE, [stream.k.delayed, stream.k.stream], [100, MAXLEN])
  let backlog: Option.Option<string> = Option.some("0")
  const next: Effect.Effect<Option.Option<Delivery>, ImageJobsError> = Effect.gen(function* () {
    yield* promote
    const claimed = yield* claim(stream, consumer)
    if (Option.isSome(claimed)) return Option.some(yield* redelivered(stream, claimed.value))
    if (Option.isSome(backlog)) {
      const own = yield* readGroup(stream, connection, consumer, backlog.value)
      backlog = Option.map(own, ([id]) => id)
      if (Option.isSome(own)) return Option.some(yield* redelivered(stream, own.value))
    }
    return Option.map(yield* readGroup(stream, connection, consumer, ">"), (entry) => toDelivery(entry, 1))
  })
  return { next, restart: () => void (backlog = Option.some("0")) }
}

/**
 * Reader `index` of `consume`, forever: read a delivery, settle it (finishing it within the shutdown grace
 * when interrupted), report each read to `onRead`. A lost group is created again at once; any other
 * failure is logged once per outage and retried every second.
 */
const reader = <R>(
  stream: Stream,
  ops: DeliveryOps,
  options: ConsumeOptions<R>,
  index: number
): Effect.Effect<never, never, R | Scope.Scope> =>
  Effect.gen(function* () {
    const consumer = `${options.consumer}/${index}`
    const connection = yield* readerConnection(stream, consumer)
    const { next, restart } = deliveries(stream, connection, consumer)
    const report = (failure: Option.Option<string>) => (options.onRead ? options.onRead(index, failure) : Effect.void)
    let healthy = true
    const once = next.pipe(
      Effect.tap(() => Effect.sync(() => (healthy = true))),
      Effect.tap(() => report(Option.none())),
      Effect.flatMap(
        Option.match({
          onNone: () => Effect.void,
          onSome: (delivery) =>
            finishWithin(stream.settings.shutdownGrace)(settle(stream.settings, options, ops, delivery))
        })
      ),
      Effect.catchAll((error) => {
        const reason = describe(error)
        // NOGROUP: no group; UNBLOCKED: the stream was deleted under a blocked read
        if (reason.includes("NOGROUP") || reason.includes("UNBLOCKED")) {
          restart()
          return Effect.zipRight(report(Option.some(reason)), regroup(stream, options))
        }
        return Effect.all([
          report(Option.some(reason)),
          healthy ? Effect.logWarning(`image job stream unavailable: ${reason}`) : Effect.void,
          Effect.sync(() => (healthy = false)),
          Effect.sleep("1 second")
        ])
      })
    )
    return yield* Effect.forever(once)
  })

/** Creates the group if need be (Redis may still be starting: it keeps trying), then runs the readers. */
const consume =
  (stream: Stream, ops: DeliveryOps) =>
  <R>(options: ConsumeOptions<R>): Effect.Effect<never, never, R> =>
    Effect.gen(function* () {
      // the readers would fail the same way while Redis is down
      const created = yield* ensureGroup(stream).pipe(
        Effect.tapError((error) => Effect.logWarning(`cannot create the image consumer group: ${describe(error)}`)),
        Effect.tapError(() => Effect.sleep("1 second")),
        Effect.eventually
      )
      if (created) yield* groupCreated(stream, options, true)
      return yield* Effect.forEach(
        Array.from({ length: Math.max(1, options.concurrency) }, (_, i) => i),
        (i) => reader(stream, ops, options, i),
        { concurrency: "unbounded", discard: true }
      ).pipe(Effect.zipRight(Effect.never))
    }).pipe(Effect.scoped)

// ---------------------------------------------------------------------------------------------------------
// Queueing, completions, the dead-letter list and the worker heartbeats.

const enqueue =
  ({ command, k }: Stream) =>
  (job: ImageJob) =>
    Effect.flatMap(Schema.encode(ImageJobJson)(job).pipe(Effect.orDie), (payload) =>
      command("xadd image_jobs", (c) => c.xadd(k.stream, "MAXLEN", "~", MAXLEN, "*", "job", payload))
    ).pipe(Effect.map((id) => id ?? ""))

const publishSettled =
  ({ command, k }: Stream) =>
  (imageId: number) =>
    command("publish image_settled", (c) => c.publish(k.settled, String(imageId))).pipe(
      Effect.catchAll((error) => Effect.logWarning(`cannot publish the image's completion: ${describe(error)}`)),
      Effect.asVoid
    )

const deadLetters = ({ command, k }: Stream) =>
  command("xrange", (c) => c.xrange(k.dead, "-", "+")).pipe(
    Effect.flatMap(Schema.decodeUnknown(DeadReply)),
    Effect.mapError(failure("Redis XRANGE reply")),
    Effect.map((entries) =>
      entries.map(([, fields]): DeadLetter => ({
        payload: field(fields, "job") ?? "",
        reason: field(fields, "reason") ?? "",
        attempts: Number(field(fields, "attempts") ?? 0)
      }))
    )
  )

/** The sorted set of heartbeats (`settings.heartbeatsKey`) that `/health/detailed` reads. */
const heartbeats = ({ command, script, settings }: Stream) => ({
  heartbeat: (worker: string) =>
    script("worker_heartbeat", HEARTBEAT, [settings.heartbeatsKey], [worker]).pipe(Effect.asVoid),
  retire: (worker: string) =>
    command("zrem worker_heartbeat", (c) => c.zrem(settings.heartbeatsKey, worker)).pipe(Effect.ignore),
  workers: script(
    "worker_heartbeats",
    ALIVE,
    [settings.heartbeatsKey],
    [Math.round(Duration.toMillis(HEARTBEAT_TTL))]
  ).pipe(
    Effect.flatMap(Schema.decodeUnknown(Schema.Array(Schema.String))),
    Effect.mapError(failure("Redis heartbeat reply")),
    Effect.map((names) => [...names].sort())
  )
})

export const make = (settings: ImageJobsSettings) =>
  Effect.gen(function* () {
    const stream = streamOf(yield* Redis, settings)
    const hub = yield* settledHub(stream)
    return ImageJobs.of({
      settings,
      enqueue: enqueue(stream),
      consume: consume(stream, deliveryOps(stream)),
      publishSettled: publishSettled(stream),
      subscribeSettled: PubSub.subscribe(hub),
      ...heartbeats(stream),
      deadLetters: deadLetters(stream)
    })
  })

/** On the `Redis` service, with explicit settings (tests, tools). */
export const layer = (settings: ImageJobsSettings): Layer.Layer<ImageJobs, ImageJobsError, Redis> =>
  Layer.scoped(ImageJobs, make(settings))

/** On the `Redis` service, with the settings of `Config.imageJobSettings` (the environment). */
export const ImageJobsRedisLive = Layer.unwrapEffect(Effect.map(imageJobSettings, layer))

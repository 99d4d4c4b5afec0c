/**
 * The image job stream in process memory (the embedded default, D10): the same delivery rules as the Redis
 * stream — retries with backoff, redelivery after the visibility timeout of a job whose handler died,
 * dead-lettering after the last attempt — for a worker running inside the server. Jobs do not survive the
 * process; the worker re-queues the images still pending when it starts (see `ImageWorker.recoverPending`).
 * Each delivery is settled by `ImageJobDelivery.settle`, as on Redis.
 */
import { Clock, Duration, Effect, FiberSet, Layer, Option, PubSub, Queue, Schema } from "effect"
import { imageJobSettings } from "./Config.js"
import { type Delivery, type DeliveryOps, finishWithin, settle } from "./ImageJobDelivery.js"
import {
  type ConsumeOptions,
  type DeadLetter,
  defaultSettings,
  HEARTBEAT_TTL,
  type ImageJob,
  ImageJobJson,
  ImageJobs,
  type ImageJobsSettings
} from "./ImageJobs.js"

interface Entry {
  readonly id: string
  readonly job: ImageJob
  /** Deliveries so far; the attempt is `job.attempt + deliveries - 1`. */
  deliveries: number
}

/** The queue of entries, its delayed offers (retries, redeliveries) and the dead-letter list. */
interface Store {
  readonly settings: ImageJobsSettings
  readonly queue: Queue.Queue<Entry>
  readonly dead: Array<DeadLetter>
  readonly entry: (job: ImageJob) => Entry
  /** Offers `next` again after `delay`. */
  readonly later: (delay: Duration.Duration, next: Entry) => Effect.Effect<void>
}

/**
 * One delivery of an entry, settled by `ImageJobDelivery.settle`; an entry left unsettled is what Redis
 * leaves unacknowledged: delivered again after the visibility timeout.
 */
const deliver = <R>(store: Store, options: ConsumeOptions<R>, current: Entry) =>
  Effect.gen(function* () {
    const { dead, entry, later, settings } = store
    current.deliveries += 1
    const delivery: Delivery = {
      id: current.id,
      payload: Schema.encodeSync(ImageJobJson)(current.job),
      job: Option.some(current.job),
      attempt: current.job.attempt + current.deliveries - 1
    }
    let settled = false
    const ops: DeliveryOps = {
      ack: () => Effect.sync(() => (settled = true)),
      retry: (_, job, delay) =>
        Effect.zipRight(
          Effect.sync(() => (settled = true)),
          later(delay, entry(job))
        ),
      deadLetter: (d, reason) =>
        Effect.sync(() => {
          settled = true
          dead.push({ payload: d.payload, reason, attempts: d.attempt })
        })
    }
    yield* settle(settings, options, ops, delivery)
    if (!settled) yield* later(settings.visibilityTimeout, current)
  })

const consume =
  (store: Store) =>
  <R>(options: ConsumeOptions<R>): Effect.Effect<never, never, R> => {
    // reading process memory never fails: each reader says so once, when it starts
    const reader = (index: number) =>
      Effect.zipRight(
        options.onRead ? options.onRead(index, Option.none()) : Effect.void,
        Effect.forever(
          Effect.flatMap(Queue.take(store.queue), (e) =>
            finishWithin(store.settings.shutdownGrace)(deliver(store, options, e))
          )
        )
      )
    return Effect.forEach(
      Array.from({ length: Math.max(1, options.concurrency) }, (_, i) => i),
      reader,
      { concurrency: "unbounded", discard: true }
    ).pipe(Effect.zipRight(Effect.never))
  }

export const make = (settings: ImageJobsSettings) =>
  Effect.gen(function* () {
    const queue = yield* Effect.acquireRelease(Queue.unbounded<Entry>(), Queue.shutdown)
    const timers = yield* FiberSet.make()
    const settledHub = yield* Effect.acquireRelease(PubSub.unbounded<number>(), PubSub.shutdown)
    const beats = new Map<string, number>()
    let sequence = 0
    const store: Store = {
      settings,
      queue,
      dead: [],
      entry: (job) => ({ id: `${Date.now()}-${sequence++}`, job, deliveries: 0 }),
      later: (delay, next) =>
        FiberSet.run(timers, Effect.zipRight(Effect.sleep(delay), Queue.offer(queue, next))).pipe(Effect.asVoid)
    }

    return ImageJobs.of({
      settings,
      enqueue: (job) => {
        const next = store.entry(job)
        return Effect.as(Queue.offer(queue, next), next.id)
      },
      consume: consume(store),
      publishSettled: (imageId) => PubSub.publish(settledHub, imageId).pipe(Effect.asVoid),
      subscribeSettled: PubSub.subscribe(settledHub),
      heartbeat: (worker) => Effect.map(Clock.currentTimeMillis, (now) => void beats.set(worker, now)),
      retire: (worker) => Effect.sync(() => void beats.delete(worker)),
      workers: Effect.map(Clock.currentTimeMillis, (now) =>
        [...beats]
          .filter(([, at]) => now - at <= Duration.toMillis(HEARTBEAT_TTL))
          .map(([name]) => name)
          .sort()
      ),
      deadLetters: Effect.sync(() => [...store.dead])
    })
  })

export const layer = (settings: ImageJobsSettings = defaultSettings): Layer.Layer<ImageJobs> =>
  Layer.scoped(ImageJobs, make(settings))

/** With the settings of `Config.imageJobSettings` (the environment). */
export const ImageJobsMemoryLive = Layer.unwrapEffect(Effect.map(imageJobSettings, layer))

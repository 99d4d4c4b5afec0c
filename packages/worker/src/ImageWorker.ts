/**
 * The image worker (D5), the same code in `packages/worker` (over Redis) and inside the server (the
 * embedded default, over the in-memory stream): consume the image jobs, write the 200/500/1000 px
 * variants, mark the image done — then the stream acknowledges. A failed job is retried with backoff and,
 * after the last attempt, its image is marked failed with the reason. It beats a heartbeat for
 * `/health/detailed` and retires it when stopping.
 *
 * Idempotent: an attempt on an image that is no longer pending writes nothing; a rerun rewrites the same
 * files (atomically) and leaves one row, and only the delivery that marks the image done counts it done.
 * A database error in the middle of a job (a connection ended, a failover) runs the job again at once, up to
 * three times, before it is left for redelivery.
 *
 * It beats only while it consumes (`ConsumerState`) and its database answers: a worker that cannot read its
 * stream, or not process what it reads, drops out of `/health/detailed` instead of being listed as alive. When the stream has lost its consumer group (Redis
 * restarted empty…) and the worker created it again, it counts it (`image_jobs_group_recreated_total`) and
 * queues again at once every pending image whose job is neither queued nor in hand (`requeuePending`).
 */
import { SqlError } from "@effect/sql/SqlError"
import { Messages } from "@shum/domain/Messages"
import { pingWithin } from "@shum/infra/Database"
import { type GroupCreated, HEARTBEAT_INTERVAL, ImageJob, ImageJobs } from "@shum/infra/ImageJobs"
import { Cause, Clock, Duration, Effect, Layer, Option, Schedule } from "effect"
import { mkdir, rm } from "node:fs/promises"
import { join } from "node:path"
import { ConsumerState, make as makeConsumerState } from "./ConsumerState.js"
import { ORIGINALS_DIR, originalPath } from "./ImageFiles.js"
import { ImageProcessor } from "./ImageProcessor.js"
import { ImageRows } from "./ImageRows.js"
import { type JobOutcome, WorkerMetrics } from "./WorkerMetrics.js"

export interface ImageWorkerOptions {
  /** Shown in `/health/detailed` and used as the stream consumer name: stable per process (pod name). */
  readonly name: string
  /** Jobs processed at the same time. */
  readonly concurrency: number
  /** `IMAGE_DIR`. */
  readonly dir: string
}

/** Removes files, ignoring those already gone; a failure is logged, never fatal. */
export const removeFiles = (paths: ReadonlyArray<string>) =>
  Effect.forEach(
    paths,
    (path) =>
      Effect.tryPromise(() => rm(path, { force: true })).pipe(
        Effect.catchAll((error) => Effect.logWarning(`cannot remove ${path}`, error.error))
      ),
    { discard: true }
  )

/** A job whose database work failed with a `SqlError` (a defect here): run again, it is idempotent. */
const isDatabaseFailure = (cause: Cause.Cause<unknown>) =>
  !Cause.isInterrupted(cause) && Option.exists(Cause.dieOption(cause), (defect) => defect instanceof SqlError)

const retryDatabase = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  effect.pipe(
    Effect.sandbox,
    Effect.tapError((cause) =>
      isDatabaseFailure(cause)
        ? Effect.logWarning("database error during an image job: running it again", cause)
        : Effect.void
    ),
    Effect.retry({ times: 3, schedule: Schedule.spaced("500 millis"), while: isDatabaseFailure }),
    Effect.unsandbox
  )

/**
 * Queues a job for every pending image but those in `except` (queued or in hand): the stream's jobs were
 * lost. Each image is claimed by one worker (`ImageRows.claimPending`); a duplicate changes nothing.
 */
export const requeuePending = (except: ReadonlySet<number>) =>
  Effect.gen(function* () {
    const jobs = yield* ImageJobs
    const rows = yield* ImageRows
    const claimed = yield* rows.claimPending([...except])
    yield* Effect.forEach(
      claimed,
      (row) => jobs.enqueue(new ImageJob({ image_id: row.id, name: row.stored_filename })),
      { discard: true }
    )
    if (claimed.length > 0) {
      yield* Effect.logWarning(`queued again ${claimed.length} pending image(s) whose jobs were lost with the stream`)
    }
    return claimed.length
  })

type RecordOutcome = (outcome: JobOutcome, since?: number) => Effect.Effect<void>

/** Counts an outcome (and its duration since `since`) when the process has metrics. */
const recorder =
  (metrics: Option.Option<WorkerMetrics["Type"]>): RecordOutcome =>
  (outcome, since) =>
    Option.match(metrics, {
      onNone: () => Effect.void,
      onSome: (m) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          m.record(outcome, since === undefined ? undefined : (now - since) / 1000)
        )
    })

/**
 * One attempt at one image: write the variants, mark the image done, remove its original, tell the waiting
 * upload. An image deleted or settled meanwhile is tidied up, not processed. A database failure runs it
 * again (`retryDatabase`); `inHand` holds the image while it runs.
 */
const processJob = (options: ImageWorkerOptions, inHand: Set<number>, record: RecordOutcome) =>
  Effect.gen(function* () {
    const jobs = yield* ImageJobs
    const rows = yield* ImageRows
    const processor = yield* ImageProcessor
    return (job: ImageJob, attempt: number) =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        const id = job.image_id
        const original = originalPath(options.dir, id, job.name)
        const state = yield* rows.begin(id, attempt)
        if (state._tag === "Deleted") return yield* Effect.logInfo("image deleted before processing: job dropped")
        if (state._tag === "Settled") {
          // a redelivery after the image was settled (the worker stopped before acknowledging): tidy up
          return yield* removeFiles([original])
        }
        const written = yield* processor
          .writeVariants({ source: original, dir: options.dir, imageId: id, name: job.name, ...state })
          .pipe(Effect.tapError(() => record("failed", started)))
        if (!(yield* rows.markDone(id))) {
          // deleted while we were writing: the delete may have missed the new files
          if (!(yield* rows.exists(id))) return yield* removeFiles(written)
          // settled meanwhile by another delivery of the same image (a job queued again): it counted it
          yield* removeFiles([original])
          return yield* Effect.logInfo("image settled meanwhile by another delivery: nothing more to do")
        }
        yield* removeFiles([original])
        yield* jobs.publishSettled(id)
        yield* record("done", started)
        yield* Effect.logInfo(`image processed in ${(yield* Clock.currentTimeMillis) - started} ms`)
      }).pipe(
        retryDatabase,
        (work) =>
          Effect.acquireUseRelease(
            Effect.sync(() => inHand.add(job.image_id)),
            () => work,
            () => Effect.sync(() => inHand.delete(job.image_id))
          ),
        Effect.annotateLogs({ image_id: job.image_id, job_attempt: attempt }),
        Effect.withSpan("ImageWorker.process", { attributes: { "image.id": job.image_id, "job.attempt": attempt } })
      )
  })

/** After the last attempt: the image is marked failed — final: its original (with its metadata) is not kept. */
const deadLetterJob = (options: ImageWorkerOptions, record: RecordOutcome) =>
  Effect.gen(function* () {
    const jobs = yield* ImageJobs
    const rows = yield* ImageRows
    return (job: ImageJob, reason: string) =>
      rows
        .markFailed(job.image_id, Messages.processingFailed(reason))
        .pipe(
          Effect.zipRight(removeFiles([originalPath(options.dir, job.image_id, job.name)])),
          Effect.zipRight(jobs.publishSettled(job.image_id)),
          Effect.zipRight(record("dead_lettered")),
          Effect.withSpan("ImageWorker.deadLetter", { attributes: { "image.id": job.image_id } })
        )
  })

/**
 * A worker that cannot consume does not claim to be alive: it beats every HEARTBEAT_INTERVAL while it reads
 * its stream and its database answers (else it could not process what it reads), at once when it can again,
 * and retires its heartbeat as soon as it cannot (and when the scope closes). `beatAgain` makes the next
 * check beat at once.
 */
const heartbeats = (name: string, state: ConsumerState["Type"]) =>
  Effect.gen(function* () {
    const jobs = yield* ImageJobs
    yield* Effect.addFinalizer(() => jobs.retire(name))
    let lastBeat: number | undefined
    const retire = Effect.suspend(() => {
      if (lastBeat === undefined) return Effect.void
      lastBeat = undefined
      return jobs.retire(name)
    })
    const beat = Effect.gen(function* () {
      if (Option.isSome(yield* state.problem)) return yield* retire
      const now = yield* Clock.currentTimeMillis
      if (lastBeat !== undefined && now - lastBeat < Duration.toMillis(HEARTBEAT_INTERVAL)) return
      const database = yield* pingWithin("2 seconds").pipe(
        Effect.as(true),
        Effect.orElseSucceed(() => false)
      )
      if (!database) return yield* retire
      lastBeat = now // a failed beat too: tried again after the interval, not every second
      yield* jobs.heartbeat(name)
    })
    yield* beat.pipe(
      Effect.catchAll((error) => Effect.logWarning(`worker heartbeat failed: ${error.message}`)),
      Effect.repeat(Schedule.spaced("1 second")),
      Effect.forkScoped
    )
    return { beatAgain: () => void (lastBeat = undefined) }
  })

/** The stream lost its jobs (its group was created again): queue the pending images again, beat again. */
const groupCreatedHandler =
  (metrics: Option.Option<WorkerMetrics["Type"]>, inHand: ReadonlySet<number>, beatAgain: () => void) =>
  ({ atStart, queued }: GroupCreated) =>
    Effect.gen(function* () {
      if (!atStart) yield* Option.match(metrics, { onNone: () => Effect.void, onSome: (m) => m.groupRecreated })
      yield* requeuePending(new Set([...queued, ...inHand]))
      // the heartbeats went with the rest of Redis's data: beat again at once
      beatAgain()
    }).pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.interrupt
          : Effect.logWarning("queueing the pending images again failed (the periodic re-queue will)", cause)
      )
    )

export const runImageWorker = (options: ImageWorkerOptions) =>
  Effect.gen(function* () {
    const jobs = yield* ImageJobs
    const metrics = yield* Effect.serviceOption(WorkerMetrics)
    const state = yield* Option.match(yield* Effect.serviceOption(ConsumerState), {
      onNone: () => makeConsumerState,
      onSome: Effect.succeed
    })
    /** The images whose jobs this process has in hand. */
    const inHand = new Set<number>()
    const record = recorder(metrics)
    yield* Effect.promise(() => mkdir(join(options.dir, ORIGINALS_DIR), { recursive: true }))
    const handle = yield* processJob(options, inHand, record)
    const onDeadLetter = yield* deadLetterJob(options, record)
    const { beatAgain } = yield* heartbeats(options.name, state)
    yield* Effect.logInfo(`image worker ${options.name} started (concurrency ${options.concurrency})`)
    return yield* jobs.consume({
      consumer: options.name,
      concurrency: options.concurrency,
      handle,
      onDeadLetter,
      onRead: state.report,
      onGroupCreated: groupCreatedHandler(metrics, inHand, beatAgain)
    })
  }).pipe(Effect.scoped, Effect.annotateLogs({ worker: options.name }))

/** Queues a job for every image still pending: jobs of the in-memory stream do not survive a restart. */
export const recoverPending = Effect.gen(function* () {
  const jobs = yield* ImageJobs
  const rows = yield* ImageRows
  const pending = yield* rows.pending
  yield* Effect.forEach(
    pending,
    (row) => jobs.enqueue(new ImageJob({ image_id: row.id, name: row.stored_filename })).pipe(Effect.orDie),
    { discard: true }
  )
  if (pending.length > 0) yield* Effect.logInfo(`queued ${pending.length} pending image(s) again`)
})

/**
 * Queues again the images pending for longer than `after` whose job is gone (a server that died between
 * the row's commit and the job's append): `after` must exceed the longest life of a job (its attempts,
 * timeouts and retry delays), so a job still in the stream is never doubled — and were it, the worker's
 * updates apply only to pending rows, so a duplicate changes nothing. Each image at most once per `after`.
 */
export const requeueLost = (after: Duration.Duration) =>
  Effect.gen(function* () {
    const jobs = yield* ImageJobs
    const rows = yield* ImageRows
    const lost = yield* rows.claimLost(Duration.toSeconds(after))
    yield* Effect.forEach(lost, (row) => jobs.enqueue(new ImageJob({ image_id: row.id, name: row.stored_filename })), {
      discard: true
    })
    if (lost.length > 0) {
      yield* Effect.logWarning(`queued again ${lost.length} image(s) pending for over ${Duration.format(after)}`)
    }
    return lost.length
  })

/** `requeueLost` every `every`, for the life of the scope; a failed round is logged and tried again. */
const requeueLoop = (after: Duration.Duration, every: Duration.Duration) =>
  requeueLost(after).pipe(
    // the database's failures are defects here: caught too, or one outage would end the loop for good
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.interrupt
        : Effect.logWarning("re-queueing lost image jobs failed (tried again next round)", cause)
    ),
    Effect.repeat(Schedule.spaced(every)),
    Effect.delay(every)
  )

/** The worker as a background fiber of the layer's scope (stopped — finishing its jobs — when it closes). */
export const ImageWorkerLive = (
  options: ImageWorkerOptions & {
    /** At start, queue every pending image again (the in-memory stream). */
    readonly recover?: boolean
    /** Periodically queue again the images whose job was lost (`requeueLost`; the Redis stream). */
    readonly requeue?: { readonly after: Duration.Duration; readonly every: Duration.Duration }
  }
) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      if (options.requeue !== undefined)
        yield* Effect.forkScoped(requeueLoop(options.requeue.after, options.requeue.every))
      yield* Effect.forkScoped(Effect.zipRight(options.recover ? recoverPending : Effect.void, runImageWorker(options)))
    })
  )

/**
 * The image worker (D5), the same code in `packages/worker` (over Redis) and inside the server (the
 * embedded default, over the in-memory stream): consume the image jobs, write the 200/500/1000 px
 * variants, mark the image done — then the stream acknowledges. A failed job is retried with backoff and,
 * after the last attempt, its image is marked failed with the reason. It beats a heartbeat for
 * `/health/detailed` and retires it when stopping.
 *
 * Idempotent: an attempt on an image that is no longer pending writes nothing; a rerun rewrites the same
 * files (atomically) and leaves one row.
 */
import { Messages } from "@shum/domain/Messages"
import { HEARTBEAT_INTERVAL, ImageJob, ImageJobs } from "@shum/infra/ImageJobs"
import { Clock, Duration, Effect, Layer, Option, Schedule } from "effect"
import { mkdir, rm } from "node:fs/promises"
import { join } from "node:path"
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

export const runImageWorker = (options: ImageWorkerOptions) =>
  Effect.gen(function* () {
    const jobs = yield* ImageJobs
    const rows = yield* ImageRows
    const processor = yield* ImageProcessor
    const metrics = yield* Effect.serviceOption(WorkerMetrics)
    const record = (outcome: JobOutcome, since?: number) =>
      Option.match(metrics, {
        onNone: () => Effect.void,
        onSome: (m) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            m.record(outcome, since === undefined ? undefined : (now - since) / 1000)
          )
      })
    yield* Effect.promise(() => mkdir(join(options.dir, ORIGINALS_DIR), { recursive: true }))

    const process = (job: ImageJob, attempt: number) =>
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
        if (!(yield* rows.markDone(id)) && !(yield* rows.exists(id))) {
          // deleted while we were writing: the delete may have missed the new files
          yield* removeFiles(written)
          return
        }
        yield* removeFiles([original])
        yield* jobs.publishSettled(id)
        yield* record("done", started)
        yield* Effect.logInfo(`image processed in ${(yield* Clock.currentTimeMillis) - started} ms`)
      }).pipe(
        Effect.annotateLogs({ image_id: job.image_id, job_attempt: attempt }),
        Effect.withSpan("ImageWorker.process", { attributes: { "image.id": job.image_id, "job.attempt": attempt } })
      )

    // failed is final: the original (with its metadata) is not kept either
    const deadLetter = (job: ImageJob, reason: string) =>
      rows
        .markFailed(job.image_id, Messages.processingFailed(reason))
        .pipe(
          Effect.zipRight(removeFiles([originalPath(options.dir, job.image_id, job.name)])),
          Effect.zipRight(jobs.publishSettled(job.image_id)),
          Effect.zipRight(record("dead_lettered")),
          Effect.withSpan("ImageWorker.deadLetter", { attributes: { "image.id": job.image_id } })
        )

    yield* Effect.addFinalizer(() => jobs.retire(options.name))
    yield* jobs.heartbeat(options.name).pipe(
      Effect.catchAll((error) => Effect.logWarning(`worker heartbeat failed: ${error.message}`)),
      Effect.repeat(Schedule.spaced(HEARTBEAT_INTERVAL)),
      Effect.forkScoped
    )
    yield* Effect.logInfo(`image worker ${options.name} started (concurrency ${options.concurrency})`)
    return yield* jobs.consume({
      consumer: options.name,
      concurrency: options.concurrency,
      handle: process,
      onDeadLetter: deadLetter
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
    Effect.catchAll((error) => Effect.logWarning(`re-queueing lost image jobs failed: ${error.message}`)),
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

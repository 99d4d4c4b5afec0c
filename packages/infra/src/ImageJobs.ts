/**
 * The image job stream (D5): the contract between the upload, which queues a job per accepted image, and
 * the image worker, which consumes them — the job, its errors, the settings and the `ImageJobs` service.
 * Two implementations with the same behaviour: `ImageJobsRedis.ts` (a Redis stream and consumer group,
 * shared by every server and worker process) and `ImageJobsMemory.ts` (in process memory: the embedded
 * default, where the worker runs inside the server). Both settle each delivery with the rules of
 * `ImageJobDelivery.ts`; the settings are read in `Config.ts` (`imageJobSettings`).
 *
 * Delivery is at least once. A job is acknowledged only after its handler succeeded; a handler failure is
 * retried with exponential backoff; a job whose worker died (or whose handler died) is delivered again after
 * the visibility timeout; after `maxAttempts` the job goes to the dead-letter list and `onDeadLetter` marks
 * its image failed. Handlers must therefore be idempotent.
 */
import { Context, Duration, type Effect, type Option, Schema, type Queue, type Scope } from "effect"

export class ImageJob extends Schema.Class<ImageJob>("ImageJob")({
  image_id: Schema.Int,
  /** The sanitised file name: the variants are `{image_id}_{width}w_{name}`. */
  name: Schema.String,
  /** 1 when queued by the upload; a retry after a failure is queued again with the next number. */
  attempt: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1 }),
  /** W3C `traceparent` of the request that queued the job, so its processing joins the request's trace. */
  traceparent: Schema.optional(Schema.String)
}) {}

/** The job as stored in the stream entry's `job` field. */
export const ImageJobJson = Schema.parseJson(ImageJob)

/** The handler could not process the job (bad image, missing file, …): retried, then dead-lettered. */
export class JobFailed extends Schema.TaggedError<JobFailed>()("JobFailed", { reason: Schema.String }) {}

export class ImageJobsError extends Schema.TaggedError<ImageJobsError>()("ImageJobsError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

export interface DeadLetter {
  /** The raw `job` field (it may not even decode). */
  readonly payload: string
  readonly reason: string
  readonly attempts: number
}

export interface ConsumeOptions<R> {
  /** Stable per process (the pod name): reader `n` of the process is the consumer `<consumer>/<n>`. */
  readonly consumer: string
  /** Jobs processed at the same time by this process. */
  readonly concurrency: number
  /** Processes one job; `attempt` counts from 1 (redeliveries after a crash included). Must be idempotent. */
  readonly handle: (job: ImageJob, attempt: number) => Effect.Effect<void, JobFailed, R>
  /** Called once the job has failed `maxAttempts` times, before it moves to the dead-letter list. */
  readonly onDeadLetter: (job: ImageJob, reason: string) => Effect.Effect<void, never, R>
  /**
   * Told after each attempt of reader `reader` (0 … concurrency − 1) to read the stream: `None` it read
   * (a job or nothing new), `Some(reason)` it could not (Redis unreachable, the consumer group gone…).
   */
  readonly onRead?: (reader: number, failure: Option.Option<string>) => Effect.Effect<void, never, R>
  /**
   * This process created the consumer group, which did not exist: at start (first start, or Redis lost its
   * data while no worker ran) or, `atStart` false, while consuming — Redis restarted empty, a failover to a
   * fresh replica, the stream deleted. The jobs of the lost stream are gone; `queued` holds the images
   * whose jobs are in the stream (or its delayed retries) now.
   */
  readonly onGroupCreated?: (event: GroupCreated) => Effect.Effect<void, never, R>
}

export interface GroupCreated {
  readonly atStart: boolean
  readonly queued: ReadonlySet<number>
}

export interface ImageJobsSettings {
  /** Prefix of every key: `<prefix>:jobs` (stream), `:dead`, `:delayed`, `:settled` (channel). */
  readonly prefix: string
  readonly maxAttempts: number
  /** A delivered job not acknowledged for this long is taken over by another reader (a crashed worker's). */
  readonly visibilityTimeout: Duration.Duration
  /** A handler running longer fails the attempt; keep it below the visibility timeout. */
  readonly jobTimeout: Duration.Duration
  /** Delay before the first retry; doubled for each further one, at most `ImageJobDelivery.MAX_RETRY_DELAY`. */
  readonly retryDelay: Duration.Duration
  /** On shutdown, how long a job in hand may still run before it is released (left for redelivery). */
  readonly shutdownGrace: Duration.Duration
  /** The sorted set of worker heartbeats that `/health/detailed` reads. */
  readonly heartbeatsKey: string
}

/** Read by `server/System/WorkerStatus.ts` (`celery` in `/health/detailed`): keep both in step. */
export const HEARTBEATS_KEY = "shum:workers:heartbeats"
/** A worker that has not beaten for this long counts as gone. */
export const HEARTBEAT_TTL = Duration.seconds(30)
export const HEARTBEAT_INTERVAL = Duration.seconds(10)

export const defaultSettings: ImageJobsSettings = {
  prefix: "shum:images",
  maxAttempts: 5,
  visibilityTimeout: Duration.seconds(120),
  jobTimeout: Duration.seconds(60),
  retryDelay: Duration.seconds(2),
  shutdownGrace: Duration.seconds(10),
  heartbeatsKey: HEARTBEATS_KEY
}

/** The keys of a stream's settings: the stream, its dead letters, its delayed retries, the completion channel. */
export const keys = (prefix: string) => ({
  stream: `${prefix}:jobs`,
  dead: `${prefix}:dead`,
  delayed: `${prefix}:delayed`,
  settled: `${prefix}:settled`,
  group: "image-workers"
})

export class ImageJobs extends Context.Tag("infra/ImageJobs")<
  ImageJobs,
  {
    readonly settings: ImageJobsSettings
    /** Appends a job; the entry's id is returned. */
    readonly enqueue: (job: ImageJob) => Effect.Effect<string, ImageJobsError>
    /** Runs `concurrency` readers until interrupted; an interrupted reader finishes its job (bounded). */
    readonly consume: <R>(options: ConsumeOptions<R>) => Effect.Effect<never, never, R>
    /** Tells the waiting uploads that this image is done or failed (at most once, best effort). */
    readonly publishSettled: (imageId: number) => Effect.Effect<void>
    /** The ids published by `publishSettled` from now on, until the scope closes. */
    readonly subscribeSettled: Effect.Effect<Queue.Dequeue<number>, never, Scope.Scope>
    readonly heartbeat: (worker: string) => Effect.Effect<void, ImageJobsError>
    /** Forgets a worker that is stopping, so the health report does not wait for its heartbeat to expire. */
    readonly retire: (worker: string) => Effect.Effect<void>
    /** Workers that beat within `HEARTBEAT_TTL`, sorted. */
    readonly workers: Effect.Effect<ReadonlyArray<string>, ImageJobsError>
    readonly deadLetters: Effect.Effect<ReadonlyArray<DeadLetter>, ImageJobsError>
  }
>() {}

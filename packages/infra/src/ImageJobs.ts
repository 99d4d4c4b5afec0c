/**
 * The image job stream (D5): the contract between the upload, which queues a job per accepted image, and
 * the image worker, which consumes them. Two implementations with the same behaviour:
 * `ImageJobsRedis.ts` (a Redis stream and consumer group, shared by every server and worker process) and
 * `ImageJobsMemory.ts` (in process memory: the embedded default, where the worker runs inside the server).
 *
 * Delivery is at least once. A job is acknowledged only after its handler succeeded; a handler failure is
 * retried with exponential backoff; a job whose worker died (or whose handler died) is delivered again after
 * the visibility timeout; after `maxAttempts` the job goes to the dead-letter list and `onDeadLetter` marks
 * its image failed. Handlers must therefore be idempotent.
 */
import { Cause, Config, Context, Duration, Effect, Fiber, Option, Schema, Tracer, type Queue, type Scope } from "effect"
import { http, imageJobs, images } from "./Config.js"

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
  /** Delay before the first retry; doubled for each further one, at most `MAX_RETRY_DELAY`. */
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
export const MAX_RETRY_DELAY = Duration.minutes(5)

export const defaultSettings: ImageJobsSettings = {
  prefix: "shum:images",
  maxAttempts: 5,
  visibilityTimeout: Duration.seconds(120),
  jobTimeout: Duration.seconds(60),
  retryDelay: Duration.seconds(2),
  shutdownGrace: Duration.seconds(10),
  heartbeatsKey: HEARTBEATS_KEY
}

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

// ---------------------------------------------------------------------------------------------------------
// Configuration: the variables are read and validated in Config.ts (`imageJobs`, `images`, `http`).

/** The stream's settings from the environment (`Config.imageJobs`, `IMAGE_JOB_MAX_ATTEMPTS`, the shutdown grace). */
export const settingsConfig: Config.Config<ImageJobsSettings> = Config.all({
  jobs: imageJobs,
  images,
  http
}).pipe(
  Config.map(({ http, images, jobs }): ImageJobsSettings => ({
    prefix: jobs.prefix,
    maxAttempts: images.jobMaxAttempts,
    visibilityTimeout: jobs.visibilityTimeout,
    jobTimeout: jobs.jobTimeout,
    retryDelay: jobs.retryDelay,
    shutdownGrace: http.shutdownTimeout,
    heartbeatsKey: HEARTBEATS_KEY
  }))
)

export const keys = (prefix: string) => ({
  stream: `${prefix}:jobs`,
  dead: `${prefix}:dead`,
  delayed: `${prefix}:delayed`,
  settled: `${prefix}:settled`,
  group: "image-workers"
})

/** Delay before the retry that follows failed attempt `attempt` (1, 2, …): doubling, capped. */
export const retryDelayFor = (settings: ImageJobsSettings, attempt: number): Duration.Duration =>
  Duration.min(Duration.times(settings.retryDelay, 2 ** Math.max(0, attempt - 1)), MAX_RETRY_DELAY)

// ---------------------------------------------------------------------------------------------------------
// Trace context (W3C `traceparent`): captured by the upload, continued by the worker.

/** `undefined` without a span, or with tracing disabled (a no-op span has the ids `"noop"`). */
export const currentTraceparent: Effect.Effect<string | undefined> = Effect.currentSpan.pipe(
  Effect.map((span) =>
    span.traceId === "noop" ? undefined : `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`
  ),
  Effect.orElseSucceed(() => undefined)
)

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/** Runs `effect` as a child of the span a `traceparent` names (unchanged when absent or malformed). */
export const withTraceparent =
  (traceparent: string | undefined) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent)
    if (match === null) return effect
    const parent = Tracer.externalSpan({
      traceId: match[1]!,
      spanId: match[2]!,
      sampled: (Number.parseInt(match[3]!, 16) & 1) === 1
    })
    return Effect.withParentSpan(effect, parent)
  }

// ---------------------------------------------------------------------------------------------------------
// What both implementations do with one delivery.

export interface Delivery {
  readonly id: string
  /** The raw `job` field. */
  readonly payload: string
  /** `None` when the payload does not decode: it goes straight to the dead-letter list. */
  readonly job: Option.Option<ImageJob>
  /** The job's `attempt` plus its redeliveries. */
  readonly attempt: number
}

/** How an implementation settles a delivery; each step is atomic (the entry is never lost nor doubled). */
export interface DeliveryOps {
  readonly ack: (delivery: Delivery) => Effect.Effect<void, ImageJobsError>
  /** Acknowledges this delivery and queues the job again, as attempt + 1, after `delay`. */
  readonly retry: (delivery: Delivery, job: ImageJob, delay: Duration.Duration) => Effect.Effect<void, ImageJobsError>
  /** Acknowledges this delivery and appends it to the dead-letter list. */
  readonly deadLetter: (delivery: Delivery, reason: string) => Effect.Effect<void, ImageJobsError>
}

/**
 * Handles one delivery: success → ack; failure → retry with backoff, or after the last attempt
 * `onDeadLetter` then dead-letter. Anything unexpected (the database down, a defect) leaves the delivery
 * unacknowledged, to be delivered again after the visibility timeout. Never fails.
 */
export const settle = <R>(
  settings: ImageJobsSettings,
  options: ConsumeOptions<R>,
  ops: DeliveryOps,
  delivery: Delivery
): Effect.Effect<void, never, R> => {
  const { attempt } = delivery
  const annotate = Effect.annotateLogs({ job_entry: delivery.id, job_attempt: attempt })
  if (Option.isNone(delivery.job)) {
    return ops.deadLetter(delivery, "unreadable job entry").pipe(
      Effect.zipRight(Effect.logError("image job entry does not decode: dead-lettered")),
      Effect.catchAllCause((cause) => Effect.logError("image job entry left unacknowledged", cause)),
      annotate
    )
  }
  const job = delivery.job.value
  const deadLetter = (reason: string) =>
    options
      .onDeadLetter(job, reason)
      .pipe(
        Effect.zipRight(ops.deadLetter(delivery, reason)),
        Effect.zipRight(Effect.logWarning(`image job dead-lettered after ${attempt} attempt(s): ${reason}`))
      )
  const run =
    attempt > settings.maxAttempts
      ? deadLetter(`not finished after ${attempt - 1} attempts (the worker stopped while processing)`)
      : options.handle(job, attempt).pipe(
          Effect.timeoutFail({
            duration: settings.jobTimeout,
            onTimeout: () =>
              new JobFailed({ reason: `processing took longer than ${Duration.format(settings.jobTimeout)}` })
          }),
          Effect.matchEffect({
            onSuccess: () => ops.ack(delivery),
            onFailure: (error) =>
              attempt >= settings.maxAttempts
                ? deadLetter(error.reason)
                : ops
                    .retry(delivery, new ImageJob({ ...job, attempt: attempt + 1 }), retryDelayFor(settings, attempt))
                    .pipe(
                      Effect.zipRight(
                        Effect.logWarning(
                          `image job failed, retried in ${Duration.format(retryDelayFor(settings, attempt))}: ${error.reason}`
                        )
                      )
                    )
          })
        )
  return run.pipe(
    withTraceparent(job.traceparent),
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.interrupt
        : Effect.logError("image job left unacknowledged, to be delivered again", cause)
    ),
    Effect.annotateLogs({ image_id: job.image_id }),
    annotate
  )
}

/**
 * Runs `work` so that an interruption (shutdown) lets it finish for at most `grace`, then abandons it:
 * an abandoned job is not acknowledged, so it is delivered again (released, not lost).
 */
export const finishWithin =
  (grace: Duration.Duration) =>
  <R>(work: Effect.Effect<void, never, R>): Effect.Effect<void, never, R> =>
    Effect.flatMap(Effect.forkDaemon(work), (fiber) =>
      Fiber.join(fiber).pipe(
        Effect.onInterrupt(() =>
          Fiber.await(fiber).pipe(
            Effect.timeoutTo({
              duration: grace,
              onSuccess: () => Effect.void,
              onTimeout: () =>
                Effect.logWarning(`image job still running after ${Duration.format(grace)}: released`).pipe(
                  Effect.zipRight(Fiber.interrupt(fiber))
                )
            }),
            Effect.flatten
          )
        )
      )
    )

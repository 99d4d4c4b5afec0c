/**
 * The delivery policy of the image job stream (D5), shared by `ImageJobsRedis.ts` and `ImageJobsMemory.ts`:
 * what becomes of one delivery — acknowledged after success, retried with a doubling delay after a failure,
 * dead-lettered after the last attempt (or when it does not decode), left unacknowledged (so delivered again
 * after the visibility timeout) when something unexpected happens — and how a job in hand finishes on
 * shutdown. Each implementation supplies the atomic steps (`DeliveryOps`); the job runs in the trace of the
 * request that queued it (`Traceparent.ts`).
 */
import { Cause, Duration, Effect, Fiber, Option } from "effect"
import { fiberWithin } from "./BoundedWait.js"
import { type ConsumeOptions, ImageJob, type ImageJobsError, type ImageJobsSettings, JobFailed } from "./ImageJobs.js"
import { withTraceparent } from "./Traceparent.js"

/** The longest delay between two attempts of a job. */
export const MAX_RETRY_DELAY = Duration.minutes(5)

/** Delay before the retry that follows failed attempt `attempt` (1, 2, …): doubling, capped. */
export const retryDelayFor = (settings: ImageJobsSettings, attempt: number): Duration.Duration =>
  Duration.min(Duration.times(settings.retryDelay, 2 ** Math.max(0, attempt - 1)), MAX_RETRY_DELAY)

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

/** An entry whose payload does not decode: straight to the dead-letter list (nothing to tell the handler). */
const settleUnreadable = (ops: DeliveryOps, delivery: Delivery): Effect.Effect<void> =>
  ops.deadLetter(delivery, "unreadable job entry").pipe(
    Effect.zipRight(Effect.logError("image job entry does not decode: dead-lettered")),
    Effect.catchAllCause((cause) => Effect.logError("image job entry left unacknowledged", cause))
  )

/** `onDeadLetter` (the image is marked failed), then the entry moves to the dead-letter list. */
const deadLetter =
  <R>(options: ConsumeOptions<R>, ops: DeliveryOps, delivery: Delivery, job: ImageJob) =>
  (reason: string) =>
    options
      .onDeadLetter(job, reason)
      .pipe(
        Effect.zipRight(ops.deadLetter(delivery, reason)),
        Effect.zipRight(Effect.logWarning(`image job dead-lettered after ${delivery.attempt} attempt(s): ${reason}`))
      )

/** The job is queued again as the next attempt, after the backoff delay. */
const retry = (settings: ImageJobsSettings, ops: DeliveryOps, delivery: Delivery, job: ImageJob, error: JobFailed) => {
  const { attempt } = delivery
  return ops
    .retry(delivery, new ImageJob({ ...job, attempt: attempt + 1 }), retryDelayFor(settings, attempt))
    .pipe(
      Effect.zipRight(
        Effect.logWarning(
          `image job failed, retried in ${Duration.format(retryDelayFor(settings, attempt))}: ${error.reason}`
        )
      )
    )
}

/**
 * One attempt: a delivery past `maxAttempts` (its worker stopped while processing it) is dead-lettered
 * unrun; otherwise the handler runs within the job timeout, then the entry is acknowledged, retried or
 * dead-lettered.
 */
const attemptJob = <R>(
  settings: ImageJobsSettings,
  options: ConsumeOptions<R>,
  ops: DeliveryOps,
  delivery: Delivery,
  job: ImageJob
): Effect.Effect<void, ImageJobsError, R> => {
  const { attempt } = delivery
  const toDeadLetters = deadLetter(options, ops, delivery, job)
  if (attempt > settings.maxAttempts) {
    return toDeadLetters(`not finished after ${attempt - 1} attempts (the worker stopped while processing)`)
  }
  return options.handle(job, attempt).pipe(
    Effect.timeoutFail({
      duration: settings.jobTimeout,
      onTimeout: () => new JobFailed({ reason: `processing took longer than ${Duration.format(settings.jobTimeout)}` })
    }),
    Effect.matchEffect({
      onSuccess: () => ops.ack(delivery),
      onFailure: (error) =>
        attempt >= settings.maxAttempts ? toDeadLetters(error.reason) : retry(settings, ops, delivery, job, error)
    })
  )
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
  const annotate = Effect.annotateLogs({ job_entry: delivery.id, job_attempt: delivery.attempt })
  if (Option.isNone(delivery.job)) return settleUnreadable(ops, delivery).pipe(annotate)
  const job = delivery.job.value
  return attemptJob(settings, options, ops, delivery, job).pipe(
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
        // an interruption's handler runs uninterruptibly: the grace is a bounded wait (BoundedWait.ts)
        Effect.onInterrupt(() =>
          fiberWithin(grace, fiber).pipe(
            Effect.flatMap(
              Option.match({
                onSome: () => Effect.void,
                onNone: () =>
                  // interrupted, and its end awaited a second at most: a job inside an uninterruptible step (an
                  // acknowledgement stuck on Redis) must not hold the shutdown either; unacknowledged, it is redelivered
                  Effect.logWarning(`image job still running after ${Duration.format(grace)}: released`).pipe(
                    Effect.zipRight(Fiber.interruptFork(fiber)),
                    Effect.zipRight(fiberWithin("1 second", fiber)),
                    Effect.asVoid
                  )
              })
            )
          )
        )
      )
    )

/**
 * Trace context across the image job stream (W3C `traceparent`): the upload captures its request's span
 * into the job (`currentTraceparent`), the worker runs the job as a child of it (`withTraceparent`), so
 * the processing joins the request's trace.
 */
import { Effect, Tracer } from "effect"

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

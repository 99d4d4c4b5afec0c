/**
 * Bounded waits for the places where interruption is off: a finalizer (shutdown is the Layers' finalizers),
 * an `onInterrupt` handler, an `Effect.async` canceler. There `Effect.timeout` does not bound anything: it
 * interrupts the wait when the time is up, and an uninterruptible wait is waited for instead. Making the wait
 * `Effect.interruptible` is no cure either: then any interruption of the fiber — a second SIGTERM while the
 * server drains — cuts the wait short, and the shutdown with it. Here the bound is a timer inside the wait:
 * it ends at the event or at the bound, whatever happens to the fiber (ARCHITECTURE.md, The Layers).
 */
import { Duration, Effect, type Fiber, Option } from "effect"

/**
 * Waits for `register`'s callback for at most `within`: `Some(value)` when it came, `None` at the bound.
 * `register` may return a function that stops listening; it is called either way.
 */
export const waitWithin = <A>(
  within: Duration.DurationInput,
  register: (done: (value: A) => void) => void | (() => void)
): Effect.Effect<Option.Option<A>> =>
  Effect.async<Option.Option<A>>((resume) => {
    let settled = false
    let stopListening: void | (() => void) = undefined
    const finish = (result: Option.Option<A>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      stopListening?.()
      resume(Effect.succeed(result))
    }
    const timer = setTimeout(() => finish(Option.none()), Duration.toMillis(Duration.decode(within)))
    stopListening = register((value) => finish(Option.some(value)))
    if (settled) stopListening?.() // the event had come already, during `register`
    // interrupted, where the wait is interruptible after all: stop the timer and the listener
    return Effect.sync(() => {
      settled = true
      clearTimeout(timer)
      stopListening?.()
    })
  })

/** A promise that never rejects (an exit, a close), awaited for at most `within`. */
export const promiseWithin = <A>(within: Duration.DurationInput, promise: () => Promise<A>) =>
  waitWithin<A>(within, (done) => void promise().then(done))

/** A fiber's end, awaited for at most `within` (it goes on running past the bound). */
export const fiberWithin = <A, E>(within: Duration.DurationInput, fiber: Fiber.RuntimeFiber<A, E>) =>
  waitWithin<unknown>(within, (done) => {
    fiber.addObserver(done)
    return () => fiber.removeObserver(done)
  })

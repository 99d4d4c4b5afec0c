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
 * `register` may return a function that stops listening; it is called either way. `fail` (or `register`
 * throwing) ends the wait at once as a defect, as `Effect.promise` treats a rejection.
 */
export const waitWithin = <A>(
  within: Duration.DurationInput,
  register: (done: (value: A) => void, fail: (error: unknown) => void) => void | (() => void)
): Effect.Effect<Option.Option<A>> =>
  Effect.async<Option.Option<A>>((resume) => {
    let settled = false
    let stopListening: void | (() => void) = undefined
    const finish = (result: Effect.Effect<Option.Option<A>>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      stopListening?.()
      resume(result)
    }
    const timer = setTimeout(() => finish(Effect.succeed(Option.none())), Duration.toMillis(Duration.decode(within)))
    try {
      stopListening = register(
        (value) => finish(Effect.succeed(Option.some(value))),
        (error) => finish(Effect.die(error))
      )
    } catch (error) {
      finish(Effect.die(error)) // no timer left behind to keep the process alive
    }
    if (settled) stopListening?.() // the event had come already, during `register`
    // interrupted, where the wait is interruptible after all: stop the timer and the listener
    return Effect.sync(() => {
      settled = true
      clearTimeout(timer)
      stopListening?.()
    })
  })

/** A promise awaited for at most `within`; its rejection is a defect, as with `Effect.promise`. */
export const promiseWithin = <A>(within: Duration.DurationInput, promise: () => Promise<A>) =>
  waitWithin<A>(within, (done, fail) => void promise().then(done, fail))

/** A fiber's end, awaited for at most `within` (it goes on running past the bound). */
export const fiberWithin = <A, E>(within: Duration.DurationInput, fiber: Fiber.RuntimeFiber<A, E>) =>
  waitWithin<unknown>(within, (done) => {
    fiber.addObserver(done)
    return () => fiber.removeObserver(done)
  })

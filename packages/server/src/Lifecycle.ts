/**
 * Process lifecycle flags. On SIGTERM the runtime interrupts the main fiber and layer finalizers run;
 * the first of them (`GracefulShutdownLive` in `NodeServer.ts`) marks the process as shutting down, so
 * `/ready` answers 503 (D6) while in-flight requests finish.
 */
import { Effect } from "effect"

export class Lifecycle extends Effect.Service<Lifecycle>()("server/Lifecycle", {
  scoped: Effect.gen(function* () {
    let shuttingDown = false
    const begin = Effect.sync(() => {
      shuttingDown = true
    })
    yield* Effect.addFinalizer(() => begin)
    return {
      isShuttingDown: Effect.sync(() => shuttingDown),
      /** The same flag read at once: for the request pipeline's pre-response handler, on every answer. */
      unsafeIsShuttingDown: (): boolean => shuttingDown,
      beginShutdown: begin
    } as const
  })
}) {}

/**
 * Process lifecycle flags. On SIGTERM the runtime interrupts the main fiber and layer finalizers run;
 * the first of them (`GracefulShutdownLive` in `NodeServer.ts`) marks the process as shutting down, so
 * `/ready` answers 503 (D6) while in-flight requests finish.
 */
import { Effect, Ref } from "effect"

export class Lifecycle extends Effect.Service<Lifecycle>()("server/Lifecycle", {
  scoped: Effect.gen(function* () {
    const shuttingDown = yield* Ref.make(false)
    yield* Effect.addFinalizer(() => Ref.set(shuttingDown, true))
    return {
      isShuttingDown: Ref.get(shuttingDown),
      beginShutdown: Ref.set(shuttingDown, true)
    } as const
  })
}) {}

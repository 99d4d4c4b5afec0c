/**
 * Process lifecycle flags. On SIGTERM the runtime interrupts the main fiber and layer finalizers run;
 * the first of them (`GracefulShutdownLive` in `NodeServer.ts`) marks the process as shutting down, so
 * `/ready` answers 503 (D6) while in-flight requests finish.
 */
import { HttpApp, HttpMiddleware, HttpServerResponse } from "@effect/platform"
import { Effect, Layer, Ref } from "effect"

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

export const LifecycleTest = Layer.effect(
  Lifecycle,
  Effect.map(Ref.make(false), (flag) =>
    Lifecycle.make({ isShuttingDown: Ref.get(flag), beginShutdown: Ref.set(flag, true) })
  )
)

/**
 * Once shutting down, responses carry `Connection: close`: a kept-alive connection then ends with its
 * response instead of idling until the keep-alive timeout while the server waits for connections to end.
 */
export const closeConnectionsWhenShuttingDown = HttpMiddleware.make((app) =>
  Effect.flatMap(Lifecycle, (lifecycle) =>
    Effect.zipRight(
      HttpApp.appendPreResponseHandler((_request, response) =>
        Effect.map(lifecycle.isShuttingDown, (closing) =>
          closing ? HttpServerResponse.setHeader(response, "connection", "close") : response
        )
      ),
      app
    )
  )
)

/**
 * The Node HTTP server on `HOST:PORT`, and its graceful shutdown (D6).
 *
 * On SIGTERM/SIGINT the runtime interrupts the program and layer finalizers run, newest first.
 * `GracefulShutdownLive`, built after the HTTP app, therefore goes first:
 * 1. `/ready` answers 503 (the `Lifecycle` flag), responses carry `Connection: close`;
 * 2. for `SHUTDOWN_DRAIN_SECONDS` (default 0) the server keeps serving, so a load balancer that polls
 *    `/ready` stops sending traffic before connections are refused;
 * 3. the listening socket closes (new connections are refused) and idle keep-alive connections end;
 * 4. in-flight requests finish, for at most `SHUTDOWN_TIMEOUT_SECONDS`, after which the remaining
 *    connections are cut;
 * then the rest of the layers close: the HTTP app, services, Redis, the database pool.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { AppConfig } from "@shum/infra/Config"
import { Context, Duration, Effect, Layer } from "effect"
import { createServer, type Server } from "node:http"
import { Lifecycle } from "./Lifecycle.js"

/** Closes the listening socket and waits for open connections, bounded by `SHUTDOWN_TIMEOUT_SECONDS`. */
export class HttpListener extends Context.Tag("server/HttpListener")<
  HttpListener,
  { readonly close: Effect.Effect<void> }
>() {}

const closeServer = (server: Server, timeout: Duration.Duration) =>
  Effect.gen(function* () {
    if (!server.listening) return
    const closed = Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
    const finished = yield* closed.pipe(Effect.timeout(timeout), Effect.option)
    if (finished._tag === "None") {
      yield* Effect.logWarning(
        `in-flight requests still running after ${Duration.format(timeout)}: closing their connections`
      )
      server.closeAllConnections()
    }
  })

export const NodeServerLive = Layer.scopedContext(
  Effect.gen(function* () {
    const { http } = yield* AppConfig
    const server = createServer()
    const httpServer = yield* NodeHttpServer.make(() => server, { port: http.port, host: http.host })
    // added after make(), so it runs before make's own server.close(), which waits without a bound
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => setTimeout(() => server.closeAllConnections(), Duration.toMillis(http.shutdownTimeout)).unref())
    )
    return Context.make(HttpServer.HttpServer, httpServer).pipe(
      Context.add(HttpListener, { close: closeServer(server, http.shutdownTimeout) })
    )
  })
).pipe(Layer.merge(NodeHttpServer.layerContext))

/** Build it after the HTTP app (`Layer.provide(GracefulShutdownLive, app)`) so its finalizer runs first. */
export const GracefulShutdownLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const { http } = yield* AppConfig
    const lifecycle = yield* Lifecycle
    const listener = yield* HttpListener
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* lifecycle.beginShutdown
        yield* Effect.logInfo("shutting down: /ready answers 503")
        if (Duration.toMillis(http.shutdownDrain) > 0) yield* Effect.sleep(http.shutdownDrain)
        yield* listener.close
        yield* Effect.logInfo("HTTP server closed")
      })
    )
  })
)

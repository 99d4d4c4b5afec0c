/**
 * The Node HTTP server on `HOST:PORT`. Closing waits for in-flight requests, but no longer than
 * `SHUTDOWN_TIMEOUT_SECONDS`: then remaining connections are cut so shutdown always ends.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { HttpServer } from "@effect/platform"
import { AppConfig } from "@shum/infra/Config"
import { Duration, Effect, Layer } from "effect"
import { createServer } from "node:http"

export const NodeServerLive = Layer.scoped(
  HttpServer.HttpServer,
  Effect.gen(function* () {
    const { http } = yield* AppConfig
    const server = createServer()
    const httpServer = yield* NodeHttpServer.make(() => server, { port: http.port, host: http.host })
    // added after make(), so it runs before make's own server.close() finalizer
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => setTimeout(() => server.closeAllConnections(), Duration.toMillis(http.shutdownTimeout)).unref())
    )
    return httpServer
  })
).pipe(Layer.merge(NodeHttpServer.layerContext))

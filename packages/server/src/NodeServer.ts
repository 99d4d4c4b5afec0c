/**
 * The Node HTTP server on `HOST:PORT`, and its graceful shutdown (D6).
 *
 * On SIGTERM/SIGINT the runtime interrupts the program and layer finalizers run, newest first.
 * `GracefulShutdownLive`, built after the HTTP app, therefore goes first:
 * 1. `/ready` answers 503 (the `Lifecycle` flag), responses carry `Connection: close`;
 * 2. for `SHUTDOWN_DRAIN_SECONDS` (default 5 s in production, else 0) the server keeps serving, so a load
 *    balancer stops sending traffic before connections are refused, and kept-alive connections end after
 *    their next response (or are closed by the proxy when idle) rather than being cut by the server;
 * 3. the listening socket closes (new connections are refused); idle keep-alive connections end a second
 *    later, once requests already on their way on just-accepted connections have arrived;
 * 4. in-flight requests finish, for at most `SHUTDOWN_TIMEOUT_SECONDS`, after which the remaining
 *    connections are cut;
 * then the rest of the layers close: the HTTP app, services, Redis, the database pool.
 *
 * Slow clients (docs/operations.md §2): a request whose headers have not all arrived within
 * `HTTP_HEADERS_TIMEOUT_SECONDS`, or that is not wholly received within `HTTP_REQUEST_TIMEOUT_SECONDS`, is
 * answered 408 and its connection closed (Node checks every second, not its default 30 s); an idle kept-alive
 * connection closes after `HTTP_KEEP_ALIVE_TIMEOUT_SECONDS`. Those 408s, and the 400 of a request that is not
 * HTTP and the 431 of headers above Node's limit, never reach the app: they are answered here, as problem
 * documents of the app's shape (docs/errors.md §1), and the connection closed.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { waitWithin } from "@shum/infra/BoundedWait"
import { AppConfig } from "@shum/infra/Config"
import { Context, Duration, Effect, Layer, Option, Runtime } from "effect"
import { randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type Server } from "node:http"
import { Server as NetServer, type Socket } from "node:net"
import type { Duplex } from "node:stream"
import { Lifecycle } from "./Lifecycle.js"
import { Metrics } from "./Metrics.js"

/** How often Node looks for requests past their headers or request timeout (its default: 30 s). */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1000

/** What a request the HTTP parser refused or that came too slowly (`clientError`) is answered. */
const clientErrorOf = (code: string | undefined) => {
  const [status, title, type, detail] =
    code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "Request Timeout", "request-timeout", "Request Timeout"]
      : code === "HPE_HEADER_OVERFLOW"
        ? [431, "Request Header Fields Too Large", "request-header-fields-too-large", "Request Header Fields Too Large"]
        : // uvicorn's text for what it could not parse
          [400, "Bad Request", "bad-request", "Invalid HTTP request received."]
  const body = JSON.stringify({ type: `/problems/${type}`, title, status, detail })
  const head =
    `HTTP/1.1 ${status} ${title}\r\n` +
    "Content-Type: application/problem+json\r\n" +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n"
  return { status, head, body }
}

/** Closes the listening socket and waits for open connections, bounded by `SHUTDOWN_TIMEOUT_SECONDS`. */
class HttpListener extends Context.Tag("server/HttpListener")<
  HttpListener,
  { readonly close: Effect.Effect<void> }
>() {}

/**
 * Not `http.Server#close`, which also ends every idle connection at once: a connection accepted a moment
 * before is idle until its request arrives, and would be cut with the request on its way. Idle
 * connections are ended a second later instead (and each second after), once those requests are in;
 * every response since SIGTERM carries `Connection: close`, so busy connections end after their answer.
 */
const closeServer = (server: Server, timeout: Duration.Duration) =>
  Effect.gen(function* () {
    if (!server.listening) return
    const idle = setInterval(() => server.closeIdleConnections(), 1000)
    // run by a finalizer, uninterruptibly: a bounded wait (BoundedWait.ts), which Effect.timeout is not there
    const finished = yield* waitWithin<void>(timeout, (done) => {
      NetServer.prototype.close.call(server, () => done())
    }).pipe(Effect.ensuring(Effect.sync(() => clearInterval(idle))))
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
    const server = createServer({
      headersTimeout: Duration.toMillis(http.headersTimeout),
      requestTimeout: Duration.toMillis(http.requestTimeout),
      keepAliveTimeout: Duration.toMillis(http.keepAliveTimeout),
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS
    })
    // instead of Node's bare 400/408/431: the same answers as problem documents; a socket that cannot take an
    // answer any more (reset, or a response already under way) is just closed, as Node does. After the answer
    // the socket is destroyed, as Node's own handler does: `end` alone only ends our side, and a client that
    // never ends its own would keep the connection (and a request waiting on its body) for good; a client that
    // does not even read the answer loses the connection a second later all the same
    // Each such answer has its `X-Request-Id`, an access-log line (logger `http.access`, method and path
    // unknown: `-`, the client's address as the socket has it, `error_code` Node's reason) and is counted in
    // `api_requests_total`, so a burst of them (a slowloris, a broken client) shows (docs/operations.md §2)
    const runtime = yield* Effect.runtime<never>()
    const countRefused = Option.map(yield* Effect.serviceOption(Metrics), (metrics) => metrics.countRefused)
    server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
      const response = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage
      if (error.code === "ECONNRESET" || !socket.writable || response?.headersSent === true) {
        socket.destroy()
        return
      }
      const answer = clientErrorOf(error.code)
      const id = randomUUID()
      socket.end(`${answer.head}X-Request-Id: ${id}\r\n\r\n${answer.body}`, () => socket.destroy())
      setTimeout(() => socket.destroy(), 1000).unref()
      if (Option.isSome(countRefused)) countRefused.value(answer.status)
      const client = (socket as { remoteAddress?: string }).remoteAddress ?? "-"
      Runtime.runFork(runtime)(
        Effect.logInfo(`${client} - "-" ${answer.status} -`).pipe(
          Effect.annotateLogs({
            logger: "http.access",
            status: answer.status,
            client_ip: client,
            request_id: id,
            error_code: error.code ?? "-"
          })
        )
      )
    })
    // an answer the client stopped reading (docs/operations.md §2): once a request's headers are in, its socket
    // times out after `HTTP_SEND_TIMEOUT_SECONDS` without a byte read or written (a write making progress,
    // however slowly, re-arms it). Armed per request (by Node's reset to `server.timeout`, below), never while
    // a connection is still sending its headers: that is timed by `HTTP_HEADERS_TIMEOUT_SECONDS` alone, and answered 408.
    // With a `timeout` listener Node leaves every socket timeout to us: a connection with no request in hand is
    // an idle kept-alive one past `HTTP_KEEP_ALIVE_TIMEOUT_SECONDS` (Node's own rule: closed); one whose answer
    // still has bytes to send has stalled (cut, its unsent answer dropped); one whose request is still being
    // handled has nothing to send yet and is left alone.
    // Armed by Node itself on a kept-alive connection's next request: Node sets a socket's timeout to
    // `server.timeout` when a request's headers are in after a keep-alive wait (`resetSocketTimeout`, from the
    // keep-alive time it set after the answer), so with `server.timeout` the send timeout that is one timer
    // update per request, not two (Node's reset to 0, then ours; issue 18, bench/README.md). Node also arms
    // `server.timeout` on a new connection: unarmed there at once, so a connection still sending its first
    // headers is timed by `HTTP_HEADERS_TIMEOUT_SECONDS` alone, as before; its first request is armed here
    const sendTimeout = Duration.toMillis(http.sendTimeout)
    server.timeout = sendTimeout
    server.on("connection", (socket: Socket) => {
      socket.setTimeout(0)
    })
    server.on("request", (request: IncomingMessage) => {
      if (request.socket.timeout !== sendTimeout) request.socket.setTimeout(sendTimeout)
    })
    server.on("timeout", (socket: Socket) => {
      const response = (socket as { _httpMessage?: object | null })._httpMessage
      if (response == null || socket.writableLength > 0) socket.destroy()
    })
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

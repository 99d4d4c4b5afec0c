/**
 * The bare reference (issue 18): an Effect `HttpApi` server answering `GET /health` with a constant, built
 * the way the service is (`HttpApiBuilder.api` of one group, a handler returning a `Schema.Class`,
 * `HttpApiBuilder.serve` on `NodeHttpServer.layer`, `NodeRuntime.runMain`, the same `node` options, no
 * spans as in production without an exporter) but with no middleware at all: no request id, client
 * address, access log, metrics, CORS, security headers, rate limit or error mapping. What one request
 * costs through Node's HTTP parser, a fiber, the router and the `HttpApi` encoding, so the service's
 * `/health` as a fraction of it is the cost of everything the service adds.
 *
 *   PORT=18082 node bench/bare/server.mjs
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Function, Layer, Schema } from "effect"
import { createServer } from "node:http"

const PORT = Number(process.env.PORT ?? 18082)

class HealthStatus extends Schema.Class("HealthStatus")({ status: Schema.Literal("ok") }) {}

const Api = HttpApi.make("bare").add(
  HttpApiGroup.make("system").add(HttpApiEndpoint.get("health", "/health").addSuccess(HealthStatus))
)

const SystemLive = HttpApiBuilder.group(Api, "system", (handlers) =>
  handlers.handle("health", () => Effect.succeed(new HealthStatus({ status: "ok" })))
)

// as the service's `TelemetryLive` without an OTLP endpoint (`infra/Telemetry.ts` `tracingDisabled`)
const TracingDisabled = Layer.mergeAll(
  Layer.setTracerEnabled(false),
  Layer.locallyScoped(HttpMiddleware.currentTracerDisabledWhen, Function.constTrue)
)

const ServerLive = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide(SystemLive))),
  Layer.provide(NodeHttpServer.layer(createServer, { port: PORT, host: "127.0.0.1" })),
  Layer.provide(TracingDisabled)
)

NodeRuntime.runMain(Layer.launch(ServerLive), { disablePrettyLogger: true })

/**
 * The worker's own small HTTP server on `HOST:WORKER_PORT` (deploy/k3s/base/worker.yaml): `/live` (the process
 * answers), `/ready` (PostgreSQL and Redis answer and the worker consumes its job stream — `ConsumerState`;
 * 503 otherwise, with the reasons, or once stopping) and `/metrics`.
 * Bodies keep the server's shapes (`{"alive": true, …}`, `{"ready": …}`).
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { pingWithin } from "@shum/infra/Database"
import { Redis } from "@shum/infra/Redis"
import { Effect, Layer, Option, Schema } from "effect"
import { createServer } from "node:http"
import { ConsumerState } from "./ConsumerState.js"
import { WorkerMetrics } from "./WorkerMetrics.js"

/** The probe server could not start (its port taken, an address not on this host…): the process exits. */
export class ProbeServerError extends Schema.TaggedError<ProbeServerError>()("ProbeServerError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** `listen EADDRINUSE: address already in use 127.0.0.1:8001`, from the server error's cause. */
const errorText = (error: unknown): string => {
  const cause = (error as { cause?: unknown }).cause
  return cause instanceof Error ? cause.message : String((error as { message?: unknown }).message ?? error)
}

const timestamp = () => new Date().toISOString().replace("Z", "")

export const ProbesLive = (options: { readonly host: string; readonly port: number }) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const redis = yield* Redis
      const metrics = yield* WorkerMetrics
      const consumer = yield* ConsumerState
      const readiness = Effect.gen(function* () {
        const checks = yield* Effect.all(
          [
            pingWithin("2 seconds").pipe(
              Effect.as(""),
              Effect.catchAll((e) => Effect.succeed(e.message))
            ),
            redis.ping.pipe(
              Effect.as(""),
              Effect.catchAll((e) => Effect.succeed(e.message))
            ),
            Effect.map(
              consumer.problem,
              Option.getOrElse(() => "")
            )
          ],
          { concurrency: "unbounded" }
        )
        return checks.filter((c) => c !== "").join("; ")
      })
      const router = HttpRouter.empty.pipe(
        HttpRouter.get(
          "/live",
          Effect.sync(() => HttpServerResponse.unsafeJson({ alive: true, timestamp: timestamp() }))
        ),
        HttpRouter.get(
          "/ready",
          Effect.map(readiness, (error) =>
            error === ""
              ? HttpServerResponse.unsafeJson({ ready: true, timestamp: timestamp() })
              : HttpServerResponse.unsafeJson({ ready: false, timestamp: timestamp(), error }, { status: 503 })
          )
        ),
        HttpRouter.get(
          "/metrics",
          Effect.promise(() => metrics.registry.metrics()).pipe(
            Effect.map((body) => HttpServerResponse.text(body, { contentType: metrics.registry.contentType }))
          )
        )
      )
      return HttpServer.serve(router).pipe(
        HttpServer.withLogAddress,
        Layer.provide(
          NodeHttpServer.layer(createServer, { port: options.port, host: options.host }).pipe(
            Layer.mapError(
              (error) =>
                new ProbeServerError({
                  message:
                    `the worker's probe server cannot listen on ${options.host}:${options.port} (HOST, WORKER_PORT): ` +
                    errorText(error),
                  cause: error
                })
            )
          )
        )
      )
    })
  )

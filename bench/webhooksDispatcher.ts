/**
 * The webhook dispatcher of `bench/webhooks.ts` in a process of its own, as production runs it: the worker
 * process delivers (docs/operations.md), not the server. The worker's own `WebhookDispatcherLive` with its
 * sender (`packages/worker/src/WebhookDispatcher.ts`, `WebhookSender.ts`) over the bench's database, and a pool
 * of `DB_POOL_SIZE` connections (the worker's default, 10) — nothing else of the worker (image jobs, the holds'
 * sweep), which would only idle here. Settings from the environment, as the worker reads them (`WEBHOOK_*`,
 * `JWT_SECRET_KEY` for the secrets' key), the database from `BENCH_DATABASE_URL`.
 *
 * `BENCH_NO_HTTP=1` replaces the requests by an answer of 204 at once (`webhooksDrain.ts`: the dispatcher's
 * own cost without the requests'). Writes `ready` once the dispatcher runs; runs until its stdin closes (in-flight deliveries are given back,
 * as at a worker's shutdown), then writes one JSON line (`DispatcherOutput`) and exits.
 */
import * as Database from "@shum/infra/Database"
import { databasePoolSize, webhooks } from "@shum/infra/Config"
import { WebhookDispatcherLive } from "@shum/worker/WebhookDispatcher"
import { WebhookMetrics, webhookMetricsIn } from "@shum/worker/WebhookMetrics"
import { WebhookSender, WebhookSenderLive } from "@shum/worker/WebhookSender"
import { Effect, Layer, Logger, LogLevel, Redacted } from "effect"
import { Registry } from "prom-client"

export interface DispatcherOutput {
  /** CPU seconds this process used (user + system) from `ready` on. */
  readonly cpuSeconds: number
}

const stdinClosed = Effect.async<void>((resume) => {
  process.stdin.resume()
  process.stdin.on("end", () => resume(Effect.void))
})

const program = Effect.gen(function* () {
  const settings = yield* webhooks
  const poolSize = yield* databasePoolSize
  const url = process.env["BENCH_DATABASE_URL"]
  if (url === undefined) return yield* Effect.dieMessage("BENCH_DATABASE_URL is not set")
  const dispatcher = WebhookDispatcherLive(settings).pipe(
    Layer.provide(
      // BENCH_NO_HTTP=1 (webhooksDrain.ts): every delivery answered 204 at once without a request, to tell the
      // dispatcher's own cost (claims, records, fibers) from the requests'
      process.env["BENCH_NO_HTTP"] === "1"
        ? Layer.succeed(
            WebhookSender,
            WebhookSender.of({ send: () => Effect.succeed({ ok: true, status: 204, durationMs: 0, error: null }) })
          )
        : WebhookSenderLive(settings)
    ),
    Layer.provide(Layer.succeed(WebhookMetrics, webhookMetricsIn(new Registry()))),
    Layer.provide(Database.client({ _tag: "Url", url: Redacted.make(url) }, { poolSize }))
  )
  const cpu = yield* Effect.scoped(
    Effect.gen(function* () {
      yield* Layer.build(dispatcher)
      process.stdout.write("ready\n")
      const cpu0 = process.cpuUsage()
      yield* stdinClosed
      return process.cpuUsage(cpu0)
    })
  )
  const output: DispatcherOutput = { cpuSeconds: (cpu.user + cpu.system) / 1e6 }
  process.stdout.write(`${JSON.stringify(output)}\n`)
}).pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.Error)))

Effect.runPromise(program).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)

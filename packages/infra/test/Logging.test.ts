import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, type Console, Effect, HashMap, Layer, Logger, LogLevel } from "effect"
import * as Logging from "../src/Logging.js"

/** Runs `effect` under `layer` and returns what its loggers wrote to the console. */
const capture = <A, E>(effect: Effect.Effect<A, E>, layer: Layer.Layer<never, unknown>) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    const current = yield* Effect.console
    const console: Console.Console = {
      ...current,
      unsafe: { ...current.unsafe, log: (line: unknown) => void lines.push(String(line)) }
    }
    yield* effect.pipe(Effect.provide(layer), Effect.withConsole(console))
    return lines
  })

const env = (vars: Record<string, string>) =>
  Logging.LoggingLive.pipe(
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(vars)))))
  )

describe("Logging", () => {
  it.effect("formats one JSON object per line with level, message, annotations, spans and cause", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const logger = Logger.make((options) => void lines.push(Logging.formatJson(options)))
      yield* Effect.logWarning("Бронирование", 42).pipe(
        Effect.annotateLogs({ request_id: "req-1", user: { id: 7 }, big: 10n }),
        Effect.withLogSpan("booking"),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      yield* Effect.logError("boom", new Error("disk full")).pipe(
        Effect.zipRight(Effect.fail("bad")),
        Effect.catchAllCause((cause) => Effect.logError("failed", cause)),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      assert.strictEqual(lines.length, 3)
      assert.isFalse(lines.some((line) => line.includes("\n")))
      assert.include(lines[0], "Бронирование") // non-ASCII kept as is
      const first = JSON.parse(lines[0]!)
      assert.match(first.timestamp, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/)
      assert.strictEqual(first.level, "WARNING")
      assert.strictEqual(first.message, "Бронирование 42")
      assert.strictEqual(first.request_id, "req-1")
      assert.deepStrictEqual(first.user, { id: 7 })
      assert.strictEqual(first.big, "10")
      assert.isNumber(first.spans.booking)
      assert.deepStrictEqual(Object.keys(first).slice(0, 3), ["timestamp", "level", "message"])
      assert.strictEqual(JSON.parse(lines[1]!).message, "boom Error: disk full")
      const third = JSON.parse(lines[2]!)
      assert.strictEqual(third.level, "ERROR")
      assert.include(third.exc_info, "bad")
    })
  )

  it.effect("a message with its own fields is written as annotating the line with them would write it", () =>
    Effect.gen(function* () {
      const json: Array<string> = []
      const plain: Array<string> = []
      const logger = Logger.make((options) => {
        json.push(Logging.formatJson(options))
        plain.push(Logging.formatLine(options))
      })
      const fields = { logger: "http.access", status: 200, duration_s: 0.002, user_id: 7, route: null, path: "/a b" }
      const run = (effect: Effect.Effect<void>) =>
        effect.pipe(
          Effect.annotateLogs({ request_id: "req-1", user_id: "outer" }),
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
      yield* run(Effect.logInfo(new Logging.MessageWithFields("GET /a 200", fields)))
      yield* run(Effect.annotateLogs(Effect.logInfo("GET /a 200"), fields))
      // the same fields, values and text (the order of an object's keys aside); a field wins over an annotation
      const [own, annotated] = json.map((line) => JSON.parse(line) as Record<string, unknown>)
      assert.deepStrictEqual(own, annotated)
      assert.strictEqual(own!["user_id"], 7)
      assert.strictEqual(own!["message"], "GET /a 200")
      const words = (line: string) => line.slice(9).split(" ").sort()
      assert.deepStrictEqual(words(plain[0]!), words(plain[1]!))
      assert.include(plain[0], 'path="/a b"')
    })
  )

  it.effect("the request's facts (currentRequestLog) are written as annotating the request with them would", () =>
    Effect.gen(function* () {
      const json: Array<string> = []
      const plain: Array<string> = []
      const otlp: Array<HashMap.HashMap<string, unknown>> = []
      const logger = Logger.make((options) => {
        json.push(Logging.formatJson(options))
        plain.push(Logging.formatLine(options))
        otlp.push(Logging.withFieldsAnnotated(options).annotations)
      })
      const logged = (effect: Effect.Effect<void>) =>
        Effect.gen(function* () {
          json.length = 0
          plain.length = 0
          otlp.length = 0
          yield* effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
          return {
            json: JSON.parse(json[0]!) as Record<string, unknown>,
            words: plain[0]!.slice(9).split(" ").sort(),
            otlp: Object.fromEntries(HashMap.toEntries(otlp[0]!))
          }
        })
      const inRequest = (facts: Logging.RequestLogFacts, effect: Effect.Effect<void>) =>
        Effect.locally(effect, Logging.currentRequestLog, facts)
      const annotated = (annotations: Record<string, unknown>, effect: Effect.Effect<void>) =>
        Effect.annotateLogs(effect, annotations)
      const line = Effect.logInfo("checked").pipe(Effect.annotateLogs("user_id", 7))

      // the same line as one annotated with the facts: JSON, the local format and what OTLP and span events get
      const read = yield* logged(inRequest({ id: "req-9", traceId: "t-1" }, line))
      const as = yield* logged(annotated({ request_id: "req-9", trace_id: "t-1" }, line))
      const { timestamp: _a, ...readJson } = read.json
      const { timestamp: _b, ...asJson } = as.json
      assert.deepStrictEqual(readJson, asJson)
      assert.deepStrictEqual(read.words, as.words)
      assert.deepStrictEqual(read.otlp, as.otlp)
      assert.strictEqual(read.json["request_id"], "req-9")
      assert.strictEqual(read.json["trace_id"], "t-1")

      // untraced: no trace_id
      const untraced = yield* logged(inRequest({ id: "req-8", traceId: undefined }, line))
      assert.strictEqual(untraced.json["request_id"], "req-8")
      assert.notProperty(untraced.json, "trace_id")
      assert.notProperty(untraced.otlp, "trace_id")

      // an annotation of the same name set inside the request wins, as it did over the request's own annotation
      const inner = yield* logged(inRequest({ id: "req-7", traceId: "t-7" }, annotated({ request_id: "inner" }, line)))
      assert.strictEqual(inner.json["request_id"], "inner")
      assert.strictEqual(inner.otlp["request_id"], "inner")
      assert.include(inner.words, "request_id=inner")
      assert.notInclude(inner.words, "request_id=req-7")
      assert.strictEqual(inner.json["trace_id"], "t-7")

      // a message's own field wins too (the access line's trace_id is its span's)
      const access = yield* logged(
        inRequest(
          { id: "req-6", traceId: "t-6" },
          Effect.logInfo(new Logging.MessageWithFields("GET /a 200", { logger: "http.access", trace_id: "own" }))
        )
      )
      assert.strictEqual(access.json["trace_id"], "own")
      assert.strictEqual(access.otlp["trace_id"], "own")
      assert.strictEqual(access.json["request_id"], "req-6")

      // outside a request: nothing added
      const outside = yield* logged(line)
      assert.notProperty(outside.json, "request_id")
      assert.notProperty(outside.otlp, "request_id")
    })
  )

  it.effect("a failure logged with its cause only (how a process that cannot start is reported) gets a message", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const logger = Logger.make((options) => void lines.push(Logging.formatJson(options)))
      // what the Node server reports for a port in use: a generic error wrapping the system's
      const listen = Object.assign(new Error("listen EADDRINUSE: address already in use 127.0.0.1:8000"), {
        code: "EADDRINUSE"
      })
      const serveError = Object.assign(new Error("An error has occurred"), { cause: listen })
      yield* Effect.die(serveError).pipe(
        Effect.catchAllCause((cause) => Effect.logError(cause)),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      const entry = JSON.parse(lines[0]!)
      assert.strictEqual(entry.message, "listen EADDRINUSE: address already in use 127.0.0.1:8000")
      assert.include(entry.exc_info, "EADDRINUSE")
    })
  )

  it.effect("LoggingLive writes JSON lines per LOG_FORMAT_JSON and filters by LOG_LEVEL", () =>
    Effect.gen(function* () {
      const program = Effect.all([
        Effect.logDebug("hidden"),
        Effect.logInfo("hidden too"),
        Effect.logWarning("shown").pipe(Effect.annotateLogs("request_id", "abc")),
        Effect.logFatal("critical")
      ])
      const lines = yield* capture(program, env({ LOG_FORMAT_JSON: "true", LOG_LEVEL: "warning" }))
      const entries = lines.map((line) => JSON.parse(line))
      assert.deepStrictEqual(
        entries.map((e) => [e.level, e.message, e.request_id]),
        [
          ["WARNING", "shown", "abc"],
          ["CRITICAL", "critical", undefined]
        ]
      )
    })
  )

  it.effect("a bad LOG_LEVEL names the variable", () =>
    Effect.gen(function* () {
      const error = yield* Layer.build(env({ LOG_LEVEL: "loud" })).pipe(Effect.scoped, Effect.flip)
      assert.include(String(error), "LOG_LEVEL")
    })
  )

  it.effect("layer: DEBUG shows debug lines", () =>
    Effect.gen(function* () {
      const lines = yield* capture(Effect.logDebug("details"), Logging.layer({ json: true, level: LogLevel.Debug }))
      assert.strictEqual(JSON.parse(lines[0]!).level, "DEBUG")
    })
  )
})

describe("Logging: the local format and empty messages", () => {
  it.effect("LOG_FORMAT_JSON=false writes one line per event, annotations inline", () =>
    Effect.gen(function* () {
      const lines = yield* capture(
        Effect.logInfo("GET /hotels 200").pipe(
          Effect.annotateLogs({ request_id: "req-9", method: "GET", path: "/hotels", duration_ms: 3.2, client: "a b" })
        ),
        env({ LOG_FORMAT_JSON: "false", APP_ENV: "local" })
      )
      assert.strictEqual(lines.length, 1)
      assert.notInclude(lines[0], "\n")
      assert.match(lines[0]!, /^\d{2}:\d{2}:\d{2} INFO {4}GET \/hotels 200 /)
      for (const field of ["request_id=req-9", "method=GET", "path=/hotels", "duration_ms=3.2", 'client="a b"'])
        assert.include(lines[0], ` ${field}`)
    })
  )

  it.effect("a log call with only a cause (a failed start-up) gets the cause's message, never an empty one", () =>
    Effect.gen(function* () {
      const failure = yield* Layer.build(env({ LOG_LEVEL: "loud" })).pipe(Effect.scoped, Effect.flip)
      const lines: Array<string> = []
      const logger = Logger.make((options) => void lines.push(Logging.formatJson(options)))
      yield* Effect.logError(Cause.fail(failure)).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      const entry = JSON.parse(lines[0]!)
      assert.include(entry.message, "LOG_LEVEL")
      assert.include(entry.message, "expected one of")
      const plain = Logging.formatLine({
        ...({} as Logger.Logger.Options<unknown>),
        annotations: HashMap.empty(),
        cause: Cause.fail(failure),
        date: new Date(),
        logLevel: LogLevel.Error,
        message: undefined
      } as Logger.Logger.Options<unknown>)
      assert.include(plain.split("\n")[0], "LOG_LEVEL")
    })
  )
})

import {
  Cause,
  type ConfigError,
  Console,
  Effect,
  FiberRef,
  FiberRefs,
  HashMap,
  Inspectable,
  Layer,
  List,
  Logger,
  LogLevel
} from "effect"
import { globalValue } from "effect/GlobalValue"
import { format } from "node:util"
import { appEnv, logging } from "./Config.js"

const levelName = (level: LogLevel.LogLevel): string => {
  switch (level._tag) {
    case "Fatal":
      return "CRITICAL"
    case "Error":
      return "ERROR"
    case "Warning":
      return "WARNING"
    case "Info":
      return "INFO"
    default:
      return "DEBUG"
  }
}

/** Whether `u` brings its own `toString` (a ConfigError reads "(Invalid data at PORT: …)"). */
const hasOwnText = (u: unknown): u is { toString(): string } =>
  typeof u === "object" && u !== null && !Array.isArray(u) && u.toString !== Object.prototype.toString

const text = (part: unknown): string =>
  typeof part === "string"
    ? part
    : part instanceof MessageWithFields
      ? part.text
      : part instanceof Error
        ? `${part.name}: ${part.message}`
        : hasOwnText(part)
          ? String(part)
          : Inspectable.stringifyCircular(Inspectable.toJSON(part))

const value = (u: unknown): unknown =>
  typeof u === "bigint" || typeof u === "symbol" || typeof u === "function" ? String(u) : Inspectable.toJSON(u)

/**
 * The text of a log call; a call that logs only a cause (`Effect.logError(cause)`, or the runtime reporting
 * a failed start-up such as a bad configuration value) gets the cause's own message, so `message` is never
 * empty: e.g. `(Invalid data at PORT: "expected an integer between 0 and 65535, got \"x\"")`.
 */
const messageText = (message: unknown, cause: Cause.Cause<unknown>): string => {
  const text_ = (Array.isArray(message) ? message : [message])
    .filter((part) => part !== undefined)
    .map(text)
    .join(" ")
  if (text_ !== "" || Cause.isEmpty(cause)) return text_
  return causeText(cause)
}

/**
 * A message with fields of its own (the access line's, `server/Http/AccessLog.ts`): written as its text, with
 * its fields as `Effect.annotateLogs` would add them (a field wins over an annotation of the same name), but
 * without what annotating one line costs — a map of annotations built, then two fiber-local updates, each
 * comparing (hashing) the old and the new map (issue 18, bench/README.md).
 */
export class MessageWithFields {
  constructor(
    readonly text: string,
    readonly fields: Readonly<Record<string, unknown>>
  ) {}
  // the last `annotated` answer: every logger of one log call is given the same annotations
  private base: HashMap.HashMap<string, unknown> | undefined
  private merged: HashMap.HashMap<string, unknown> | undefined

  /** `annotations` with the fields set over them in their order, as `Effect.annotateLogs(fields)` sets them. */
  annotated(annotations: HashMap.HashMap<string, unknown>): HashMap.HashMap<string, unknown> {
    if (this.merged !== undefined && this.base === annotations) return this.merged
    let merged = annotations
    for (const [key, value] of Object.entries(this.fields)) merged = HashMap.set(merged, key, value)
    this.base = annotations
    this.merged = merged
    return merged
  }

  toString(): string {
    return this.text
  }
}

/**
 * What every log line of a request carries beside its annotations (docs/operations.md §4.1): the request's
 * id (`request_id`, D8) and, when the request is traced, its trace's (`trace_id`). The server keeps them in the
 * request's state, a fiber-local it sets once per request anyway (`server/Http/RequestContext.ts`
 * `currentRequest` is this one), and the loggers here read them from there as if they were annotations — an
 * annotation or a message's field of the same name wins, as one set inside the request wins over the request's
 * own — instead of the request annotating its fiber: a fiber-local update less per request, and no annotation
 * map built for a line never written (issue 18, bench/README.md). Child fibers inherit it, as annotations.
 */
export interface RequestLogFacts {
  readonly id: string
  readonly traceId: string | undefined
}

export const currentRequestLog: FiberRef.FiberRef<RequestLogFacts | undefined> = globalValue(
  "infra/Logging/currentRequestLog",
  () => FiberRef.unsafeMake<RequestLogFacts | undefined>(undefined)
)

// options made by hand (a test's) may come without the fiber's locals: no request then
const requestOf = (options: Logger.Logger.Options<unknown>): RequestLogFacts | undefined =>
  (options.context as FiberRefs.FiberRefs | undefined) === undefined
    ? undefined
    : FiberRefs.getOrDefault(options.context, currentRequestLog)

// the last answer of `withRequestAnnotated`: every logger of one log call is given the same annotations
let lastBase: HashMap.HashMap<string, unknown> | undefined
let lastFacts: RequestLogFacts | undefined
let lastAnnotated: HashMap.HashMap<string, unknown> | undefined

/** `annotations` with the request's facts where they have no annotation of that name. */
const withRequestAnnotated = (
  request: RequestLogFacts,
  annotations: HashMap.HashMap<string, unknown>
): HashMap.HashMap<string, unknown> => {
  if (lastAnnotated !== undefined && lastBase === annotations && lastFacts === request) return lastAnnotated
  let out = annotations
  if (!HashMap.has(out, "request_id")) out = HashMap.set(out, "request_id", request.id)
  if (request.traceId !== undefined && !HashMap.has(out, "trace_id"))
    out = HashMap.set(out, "trace_id", request.traceId)
  lastBase = annotations
  lastFacts = request
  lastAnnotated = out
  return out
}

/** The message's own fields, when it is a `MessageWithFields` (logged alone). */
const ownFields = (message: unknown): MessageWithFields | undefined => {
  const only = Array.isArray(message) && message.length === 1 ? message[0] : message
  return only instanceof MessageWithFields ? only : undefined
}

/**
 * A log call as a logger that knows neither `MessageWithFields` nor the request's facts must see it (Effect's
 * OTLP logger, its span events, `infra/Telemetry.ts`): the request's facts as annotations (`currentRequestLog`),
 * the text as the message and the fields as annotations — what logging the text inside
 * `Effect.annotateLogs(fields)` in a request annotated with its facts gives it. Any other call unchanged.
 */
export const withFieldsAnnotated = <Options extends Logger.Logger.Options<unknown>>(options: Options): Options => {
  const request = requestOf(options)
  const annotations = request === undefined ? options.annotations : withRequestAnnotated(request, options.annotations)
  const own = ownFields(options.message)
  if (own === undefined) return annotations === options.annotations ? options : { ...options, annotations }
  return {
    ...options,
    message: Array.isArray(options.message) ? [own.text] : own.text,
    annotations: own.annotated(annotations)
  }
}

/**
 * One JSON object per line, docs/operations.md §4.1: `timestamp` (UTC, `YYYY-MM-DD HH:MM:SS`), `level` (Python names),
 * `message`, then every annotation and the request's facts (`request_id`, `trace_id`: `currentRequestLog`), `spans`
 * (ms) and `exc_info` when there is a cause.
 */
export const formatJson = (options: Logger.Logger.Options<unknown>): string => {
  const { annotations, cause, date, logLevel, message, spans } = options
  const entry: Record<string, unknown> = {
    timestamp: date.toISOString().slice(0, 19).replace("T", " "),
    level: levelName(logLevel),
    message: messageText(message, cause)
  }
  // plain values (an access line has only those) need none of `stringifyCircular`'s care: plain JSON is faster
  let plain = true
  const add = (annotation: unknown, key: string) => {
    if (key in entry) return
    if (annotation !== null && typeof annotation === "object") plain = false
    entry[key] = isPrimitive(annotation) ? annotation : value(annotation)
  }
  const fields = ownFields(message)
  if (fields !== undefined) for (const key in fields.fields) add(fields.fields[key], key)
  // `forEach`, not `toEntries`: a third of the time for an access line's dozen annotations (issue 18)
  HashMap.forEach(annotations, add)
  const request = requestOf(options)
  if (request !== undefined) {
    add(request.id, "request_id")
    if (request.traceId !== undefined) add(request.traceId, "trace_id")
  }
  if (List.isCons(spans)) {
    const now = date.getTime()
    entry.spans = Object.fromEntries(List.toArray(spans).map((span) => [span.label, now - span.startTime]))
  }
  if (!Cause.isEmpty(cause)) entry.exc_info = Cause.pretty(cause, { renderErrorCause: true })
  return plain ? JSON.stringify(entry) : Inspectable.stringifyCircular(entry)
}

/**
 * The message of the cause's error followed by those of the errors it wraps (`cause`), generic ones left
 * out: a port in use is `listen EADDRINUSE: address already in use 127.0.0.1:8000`, not the server's
 * "An error has occurred".
 */
export const causeText = (cause: Cause.Cause<unknown>): string => {
  const parts: Array<string> = []
  let error: unknown = Cause.squash(cause)
  for (let depth = 0; error !== undefined && error !== null && depth < 5; depth++) {
    const said = error instanceof Error ? error.message : text(error)
    if (said !== "" && said !== "An error has occurred" && !parts.some((p) => p.includes(said))) parts.push(said)
    error = typeof error === "object" && "cause" in error ? (error as { cause: unknown }).cause : undefined
  }
  if (parts.length > 0) return parts.join(": ")
  const failure = Cause.squash(cause)
  return failure instanceof Error ? String(failure) : text(failure)
}

const isPrimitive = (u: unknown): u is string | number | boolean | null | undefined =>
  u === null || u === undefined || typeof u === "string" || typeof u === "number" || typeof u === "boolean"

export const jsonLogger: Logger.Logger<unknown, void> = Logger.make(formatJson).pipe(Logger.withConsoleLog)

const COLOURS: Record<string, string> = { CRITICAL: "35", ERROR: "31", WARNING: "33", INFO: "32", DEBUG: "90" }

/**
 * The local (`LOG_FORMAT_JSON=false`) format: one line per event, `HH:MM:SS LEVEL message key=value …`,
 * a cause indented below it. (Effect's own pretty logger spends a line per annotation: ~10 per request.)
 */
export const formatLine = (options: Logger.Logger.Options<unknown> & { readonly colours?: boolean }): string => {
  const { annotations, cause, date, logLevel, message, colours = false } = options
  const level = levelName(logLevel)
  const paint = (code: string, s: string) => (colours ? `\x1b[${code}m${s}\x1b[0m` : s)
  let line = `${paint("90", date.toISOString().slice(11, 19))} ${paint(COLOURS[level] ?? "0", level.padEnd(7))} ${messageText(message, cause)}`
  const fields = ownFields(message)?.fields
  const add = (annotation: unknown, key: string) => {
    const rendered = isPrimitive(annotation) ? String(annotation) : Inspectable.stringifyCircular(value(annotation))
    line += ` ${paint("90", `${key}=`)}${/\s/.test(rendered) ? JSON.stringify(rendered) : rendered}`
  }
  HashMap.forEach(annotations, (annotation, key) => {
    if (fields === undefined || !(key in fields)) add(annotation, key)
  })
  const request = requestOf(options)
  if (request !== undefined) {
    const unset = (key: string) => !HashMap.has(annotations, key) && (fields === undefined || !(key in fields))
    if (unset("request_id")) add(request.id, "request_id")
    if (request.traceId !== undefined && unset("trace_id")) add(request.traceId, "trace_id")
  }
  if (fields !== undefined) for (const key in fields) add(fields[key], key)
  if (!Cause.isEmpty(cause)) line += `\n  ${Cause.pretty(cause, { renderErrorCause: true }).split("\n").join("\n  ")}`
  return line
}

const lineLogger = (colours: boolean): Logger.Logger<unknown, void> =>
  Logger.make((options) => formatLine({ ...options, colours })).pipe(Logger.withConsoleLog)

export const layer = (options: { readonly json: boolean; readonly level: LogLevel.LogLevel }): Layer.Layer<never> =>
  Layer.merge(
    Logger.replace(Logger.defaultLogger, options.json ? jsonLogger : lineLogger(process.stdout.isTTY === true)),
    Logger.minimumLogLevel(options.level)
  )

/** JSON lines or pretty output per LOG_FORMAT_JSON, minimum level per LOG_LEVEL. */
export const LoggingLive: Layer.Layer<never, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(Effect.flatMap(appEnv, logging), layer)
)

const MAX_BUFFERED_LINES = 1_000

/**
 * A `Console` whose `log` collects the lines written during one turn of the event loop and writes them to
 * stdout together, once the turn's I/O is handled (`setImmediate`): one write per turn instead of one per
 * line, so a busy server's access log costs one system call per batch (stdout to a file or a pipe is a
 * synchronous write in Node). Order is kept; whatever is pending is written when the process exits (or
 * at once past `MAX_BUFFERED_LINES`), so only a process killed outright (SIGKILL) can lose the lines of
 * its last turn. Everything but `log` is the default console's.
 */
export const makeBufferedConsole = (write: (chunk: string) => void): Console.Console => {
  const pending: Array<string> = []
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (pending.length === 0) return
    const chunk = `${pending.join("\n")}\n`
    pending.length = 0
    write(chunk)
  }
  process.on("exit", flush)
  const log = (...args: ReadonlyArray<unknown>) => {
    pending.push(args.length === 1 && typeof args[0] === "string" ? args[0] : format(...args))
    if (pending.length >= MAX_BUFFERED_LINES) flush()
    else if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }
  return Effect.runSync(
    Effect.map(Effect.console, (console) => ({ ...console, unsafe: { ...console.unsafe, log } }) as Console.Console)
  )
}

/** The server's console: log lines batched per event-loop turn onto stdout (see `makeBufferedConsole`). */
export const BufferedStdoutLive: Layer.Layer<never> = Layer.suspend(() =>
  Console.setConsole(makeBufferedConsole((chunk) => process.stdout.write(chunk)))
)

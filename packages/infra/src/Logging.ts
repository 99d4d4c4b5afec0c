import { Cause, type ConfigError, Effect, HashMap, Inspectable, Layer, List, Logger, LogLevel } from "effect"
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

const text = (part: unknown): string =>
  typeof part === "string"
    ? part
    : part instanceof Error
      ? `${part.name}: ${part.message}`
      : Inspectable.stringifyCircular(Inspectable.toJSON(part))

const value = (u: unknown): unknown =>
  typeof u === "bigint" || typeof u === "symbol" || typeof u === "function" ? String(u) : Inspectable.toJSON(u)

/**
 * One JSON object per line, OPS.md §4.1: `timestamp` (UTC, `YYYY-MM-DD HH:MM:SS`), `level` (Python names),
 * `message`, then every annotation (e.g. `request_id`), `spans` (ms) and `exc_info` when there is a cause.
 */
export const formatJson = (options: Logger.Logger.Options<unknown>): string => {
  const { annotations, cause, date, logLevel, message, spans } = options
  const entry: Record<string, unknown> = {
    timestamp: date.toISOString().slice(0, 19).replace("T", " "),
    level: levelName(logLevel),
    message: (Array.isArray(message) ? message : [message]).map(text).join(" ")
  }
  for (const [key, annotation] of HashMap.toEntries(annotations)) {
    if (!(key in entry)) entry[key] = value(annotation)
  }
  if (List.isCons(spans)) {
    const now = date.getTime()
    entry.spans = Object.fromEntries(List.toArray(spans).map((span) => [span.label, now - span.startTime]))
  }
  if (!Cause.isEmpty(cause)) entry.exc_info = Cause.pretty(cause, { renderErrorCause: true })
  return Inspectable.stringifyCircular(entry)
}

export const jsonLogger: Logger.Logger<unknown, void> = Logger.make(formatJson).pipe(Logger.withConsoleLog)

export const layer = (options: { readonly json: boolean; readonly level: LogLevel.LogLevel }): Layer.Layer<never> =>
  Layer.merge(
    options.json ? Logger.replace(Logger.defaultLogger, jsonLogger) : Logger.pretty,
    Logger.minimumLogLevel(options.level)
  )

/** JSON lines or pretty output per LOG_FORMAT_JSON, minimum level per LOG_LEVEL. */
export const LoggingLive: Layer.Layer<never, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(Effect.flatMap(appEnv, logging), layer)
)

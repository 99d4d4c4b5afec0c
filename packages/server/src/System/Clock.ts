import { Clock, Effect } from "effect"

const pad = (n: number, width = 2) => String(n).padStart(width, "0")

/** Server-local naive ISO-8601 with microseconds, as the original's `datetime.now().isoformat()`. */
const naiveTimestamp = (millis: number): string => {
  const d = new Date(millis)
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  const micros = d.getMilliseconds() * 1000
  return `${date}T${time}${micros === 0 ? "" : `.${pad(micros, 6)}`}`
}

export const now = Effect.map(Clock.currentTimeMillis, naiveTimestamp)

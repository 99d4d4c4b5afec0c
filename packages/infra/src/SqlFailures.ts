/**
 * The one reader of PostgreSQL's error codes (SQLSTATE). Repositories use it to turn a refused statement into
 * typed errors of their own; `Http/ErrorMapping.ts` uses it for the database failures no repository expected
 * (docs/errors.md E-90, E-91, E-92). Nothing else looks at a driver error's `code`.
 */
import type { SqlError } from "@effect/sql/SqlError"

/** The CHECK of `room_nights` (`0 <= sold <= capacity`): the database's own refusal to overbook (docs/data.md BR-7). */
export const INVENTORY_CONSTRAINT = "room_nights_sold_check"

export type SqlFailure =
  /** `room_nights_sold_check` refused a write: a night would sell more than its capacity. */
  | "InventoryExceeded"
  /** Any other integrity constraint (class 23). */
  | "IntegrityViolation"
  /** deadlock_detected (40P01) or serialization_failure (40001): the statement may simply be run again. */
  | "Aborted"
  /** numeric_value_out_of_range (22003). */
  | "OutOfRange"
  /**
   * The database cannot be reached, refuses this server's connections or is going away (08, 57P, 53, socket
   * errors; 28 and 3D000, which only a new connection meets: the role may not log in, the database is gone).
   */
  | "Unavailable"
  | "Other"

const SOCKET_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EPIPE"])

export const classifySqlError = (error: SqlError): SqlFailure => {
  const cause = error.cause as { code?: unknown; constraint?: unknown; message?: unknown } | undefined
  const code = typeof cause?.code === "string" ? cause.code : ""
  if (code === "23514" && cause?.constraint === INVENTORY_CONSTRAINT) return "InventoryExceeded"
  if (code.startsWith("23")) return "IntegrityViolation"
  if (code === "40P01" || code === "40001") return "Aborted"
  if (code === "22003") return "OutOfRange"
  if (
    code.startsWith("08") ||
    code.startsWith("57P") ||
    code.startsWith("53") ||
    code.startsWith("28") ||
    code === "3D000" ||
    SOCKET_ERRORS.has(code) ||
    /timeout|terminat|connect/i.test(String(cause?.message ?? ""))
  ) {
    return "Unavailable"
  }
  return "Other"
}

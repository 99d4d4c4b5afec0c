/**
 * The audit log (docs/api.md §15; docs/decisions.md D17; docs/data.md BR-15): who changed what, and when.
 */
import { Schema } from "effect"
import { INT32, IntegerString, maxChars, minChars, modelDoc, Text, Timestamp } from "./Common.js"

/** What the audit log knows the entities by (`audit_log.entity`). */
export const AUDIT_ENTITIES = [
  "country",
  "city",
  "facility",
  "hotel",
  "room",
  "image",
  "user",
  "webhook",
  "sign_in"
] as const
export const AuditEntity = Schema.Literal(...AUDIT_ENTITIES).annotations({
  identifier: "AuditEntity",
  description: "The kind of entity a row is about (`sign_in`: a sign-in failure burst, its id the e-mail)"
})
export type AuditEntity = typeof AuditEntity.Type

const CURSOR_PREFIX = "audit:"

/** The opaque `next_cursor` of a page: the last row's id, which the next page starts below (base64url). */
export const encodeCursor = (id: number): string =>
  btoa(`${CURSOR_PREFIX}${id}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")

/** The row id a cursor this server gave stands for; `undefined` for anything else. */
export const decodeCursor = (cursor: string): number | undefined => {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(cursor)) return undefined
  let text: string
  try {
    text = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"))
  } catch {
    return undefined
  }
  const match = /^audit:([1-9][0-9]{0,15})$/.exec(text)
  if (match === null) return undefined
  const id = Number(match[1])
  return Number.isSafeInteger(id) ? id : undefined
}

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(?:Z|[+-](\d{2}):(\d{2}))$/
/** The instants of years 0001..9999 in UTC, the form the audit log's query passes on (`AuditService.ts`). */
const FIRST_INSTANT = Date.parse("0001-01-01T00:00:00.000Z")
const LAST_INSTANT = Date.parse("9999-12-31T23:59:59.999Z")

/**
 * Whether the fields are a real date and time of day: `Date.parse` rolls 2026-02-31 over to March 3 and
 * would read a day, hour or offset out of range as another instant rather than refuse it.
 */
const isCalendarTime = (match: RegExpExecArray): boolean => {
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((i) => Number(match[i]))
  const second = match[6] === undefined ? 0 : Number(match[6])
  const offsetHours = match[7] === undefined ? 0 : Number(match[7])
  const offsetMinutes = match[8] === undefined ? 0 : Number(match[8])
  if (month! < 1 || month! > 12 || day! < 1) return false
  const leap = year! % 4 === 0 && (year! % 100 !== 0 || year! % 400 === 0)
  if (day! > [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month! - 1]!) return false
  return hour! <= 23 && minute! <= 59 && second <= 59 && offsetHours <= 23 && offsetMinutes <= 59
}

/**
 * An RFC 3339 time with its offset, years 0001..9999 — as written and in UTC, so that an offset cannot carry
 * it to year 0 or 10000, which PostgreSQL refuses (docs/decisions.md D11): 422 otherwise.
 */
export const Instant = Schema.String.pipe(
  Schema.filter(
    (s) => {
      const match = INSTANT.exec(s)
      if (match === null || Number(match[1]) < 1) return false
      if (!isCalendarTime(match)) return false
      const at = Date.parse(s)
      return !Number.isNaN(at) && at >= FIRST_INSTANT && at <= LAST_INSTANT
    },
    {
      message: () => "Value error, expected an RFC 3339 time with its offset (2026-11-20T10:15:30Z), years 0001 to 9999"
    }
  )
).annotations({
  jsonSchema: {
    type: "string",
    format: "date-time",
    description: "An RFC 3339 time with its offset (`Z` or `±HH:MM`), years 0001 to 9999",
    examples: ["2026-11-20T10:15:30Z"]
  }
})

const Cursor = Schema.String.pipe(
  Schema.filter((s) => decodeCursor(s) !== undefined, {
    message: () => "Value error, not a cursor of this list: pass `next_cursor` of the previous page as it is"
  })
).annotations({
  jsonSchema: { type: "string", maxLength: 40, description: "`next_cursor` of the previous page, as it is (opaque)" }
})

const Limit = Schema.compose(IntegerString, Schema.Number.pipe(Schema.between(1, 100), Schema.int())).annotations({
  jsonSchema: { type: "integer", minimum: 1, maximum: 100, description: "Rows per page, 1..100 (default 20)" }
})

const ActorId = Schema.compose(
  IntegerString,
  Schema.Number.pipe(Schema.between(INT32.minimum, INT32.maximum), Schema.int())
).annotations({
  jsonSchema: { type: "integer", format: "int32", ...INT32, description: "Rows of this actor (a user's id)" }
})

export const AuditQuery = Schema.Struct({
  entity: Schema.optional(AuditEntity),
  entity_id: Schema.optional(
    Text.pipe(minChars(1), maxChars(320)).annotations({
      description: "Rows about this entity's id (with `entity`; a sign-in burst's is the e-mail or address)",
      examples: ["7"]
    })
  ),
  actor_id: Schema.optional(ActorId),
  action: Schema.optional(
    Text.pipe(maxChars(64), Schema.pattern(/^[a-z_]+\.[a-z_]+$/)).annotations({
      description: "Rows of this action (`hotel.updated`)",
      examples: ["hotel.updated"]
    })
  ),
  from: Schema.optional(Instant),
  to: Schema.optional(Instant),
  cursor: Schema.optional(Cursor),
  limit: Schema.optional(Limit)
})
export type AuditQuery = typeof AuditQuery.Type

const changesSchema = Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
  description:
    "The changed fields, each `{before, after}` (a create: `after` only; a delete: `before` only); a password " +
    "or secret is `[redacted]`. A sign-in burst: `count`, `email`, `client_address`, `window_seconds`."
})

const entryFields = {
  id: Schema.Int,
  at: Timestamp,
  actor_id: Schema.NullOr(Schema.Int),
  actor_email: Schema.NullOr(Schema.String),
  action: Schema.String,
  entity: Schema.String,
  entity_id: Schema.NullOr(Schema.String),
  changes: changesSchema,
  request_id: Schema.NullOr(Schema.String)
}
const entryExample = {
  id: 42,
  at: "2026-11-20T10:15:30.123Z",
  actor_id: 1,
  actor_email: "admin@example.com",
  action: "room.updated",
  entity: "room",
  entity_id: "12",
  changes: { price: { before: 3000, after: 3500 } },
  request_id: "5f0c6d0e-8a3b-4c1e-9f55-2f4de2c1a9b7"
}
export class AuditEntry extends Schema.Class<AuditEntry>("AuditEntry")(
  entryFields,
  modelDoc(
    entryFields,
    "One audited write: who (`actor_id`, `actor_email`; none for a sign-in burst), what (`action`, `entity`, " +
      "`entity_id`), the before/after of the fields it changed, the request's `X-Request-Id` and when.",
    entryExample
  )
) {}

const pageFields = { items: Schema.Array(AuditEntry), next_cursor: Schema.NullOr(Schema.String) }
export class AuditPage extends Schema.Class<AuditPage>("AuditPage")(
  pageFields,
  modelDoc(pageFields, "Newest first; pass `next_cursor` as `cursor` for the next page (`null`: no more).", {
    items: [entryExample],
    next_cursor: "YXVkaXQ6NDI"
  })
) {}

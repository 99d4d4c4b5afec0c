/**
 * Building blocks shared by every group: ids, lax integers, dates and times, pagination, `Message`.
 * Wire formats follow docs/api.md §1.2.
 */
import { ParseResult, Schema } from "effect"

/**
 * Optional hint for the server's 422 builder: the FastAPI/Pydantic error `type` a failure of this
 * schema should be reported as (e.g. `value_error` for an e-mail), where effect's own schema ids
 * (`maxLength`, `pattern`, …) do not already say it. Read it with `AST.getAnnotation(ast, ErrorType)`.
 */
export const ErrorType: unique symbol = Symbol.for("@shum/domain/ErrorType")

const codePoints = (s: string): number => {
  let n = 0
  for (const _ of s) n++
  return n
}

/**
 * `Schema.maxLength`, counted in characters (code points) as Python and PostgreSQL count them, not
 * UTF-16 units. Same annotations as the built-in filter, so tools that read them see no difference.
 */
export const maxChars =
  (maxLength: number) =>
  <A extends string, I, R>(self: Schema.Schema<A, I, R>) =>
    self.pipe(
      Schema.filter((s) => codePoints(s) <= maxLength, {
        schemaId: Schema.MaxLengthSchemaId,
        title: `maxLength(${maxLength})`,
        description: `a string at most ${maxLength} character(s) long`,
        jsonSchema: { maxLength }
      })
    )

/** `Schema.minLength`, counted in characters (code points); see `maxChars`. */
export const minChars =
  (minLength: number) =>
  <A extends string, I, R>(self: Schema.Schema<A, I, R>) =>
    self.pipe(
      Schema.filter((s) => codePoints(s) >= minLength, {
        schemaId: Schema.MinLengthSchemaId,
        title: `minLength(${minLength})`,
        description: `a string at least ${minLength} character(s) long`,
        jsonSchema: { minLength }
      })
    )

// A NUL, or a UTF-16 surrogate not part of a pair (with the `u` flag a pair is one code point, so only an
// unpaired half matches the range). The NUL is the point of the pattern, not a typo.
const FORBIDDEN_CHAR = /[\u0000\uD800-\uDFFF]/u // eslint-disable-line no-control-regex

/** Whether PostgreSQL can store this text: no NUL, no lone surrogate (see `Text`). */
const isStorableText = (s: string): boolean => !FORBIDDEN_CHAR.test(s)

/** Why `isStorableText` refused `s`, as a 422 `msg`. */
const unstorableTextMessage = (s: unknown): string =>
  typeof s === "string" && s.includes("\u0000")
    ? "Value error, the text contains a NUL character (U+0000), which is not accepted"
    : "Value error, the text contains an unpaired surrogate (not a Unicode character), which is not accepted"

/**
 * Text as PostgreSQL can store it: a string without NUL (U+0000), which no `text` or `varchar` column holds
 * (22021, was a 500), and without a lone surrogate, which is not a character at all and has no UTF-8 form.
 * The base of every string a request carries (body fields, query filters, headers), so a bad one is a 422
 * at that field before anything runs (docs/decisions.md D11).
 */
export const Text = Schema.String.pipe(
  Schema.filter(isStorableText, {
    message: (issue) => unstorableTextMessage(issue.actual),
    jsonSchema: {} // stated once, in the API description (`Api.ts`)
  })
)

type NonEmpty<A> = readonly [A, ...Array<A>]
type ModelDoc = { readonly description: string; readonly examples: NonEmpty<never> }

/**
 * Description and examples for a `Schema.Class`. The class's own annotation type mentions the class
 * being declared, which TypeScript cannot check inside its base expression (TS2310); so the examples
 * are checked here against the fields instead: `class X extends Schema.Class<X>("X")(fields,
 * modelDoc(fields, "…", example))`.
 */
export const modelDoc = <Fields extends Schema.Struct.Fields>(
  _fields: Fields,
  description: string,
  ...examples: NonEmpty<Schema.Struct.Type<Fields>>
): ModelDoc => ({ description, examples: examples as unknown as NonEmpty<never> })

/**
 * Any integral number, however large (`Schema.Int` stops at ±2^53 and would call 2^63 "not an integer"): the
 * schemas built on it bound it themselves, naming the bound.
 */
const integral = <I, R>(self: Schema.Schema<number, I, R>) =>
  self.pipe(Schema.filter((n) => Number.isInteger(n), { jsonSchema: { type: "integer" } }))

/**
 * An integer written as text, as the original (Pydantic's lax mode) read one (docs/api.md §1.2): decimal digits,
 * with an optional sign, leading zeros, a fraction of zeros only (`5.0`) and blanks around (not a byte-order
 * mark); nothing else —
 * `0x10`, `0o7`, `0b1`, `1e3`, `Infinity`, `1_000`, `1.5`, other scripts' digits — is an integer
 * (`NumberFromString`, which reads as JavaScript's `Number()` does, took `0x10` for 16). Any number of digits is
 * an integer: one beyond the largest double reads as ±`Number.MAX_VALUE`, so whatever bounds it names its bound.
 */
const DECIMAL_INTEGER = /^[+-]?[0-9]+(?:\.0*)?$/
/**
 * Blanks as Pydantic trims them (Rust's `str::trim`: Unicode's White_Space, U+0085 included); not JavaScript's
 * `trim()`, which also drops a byte-order mark (U+FEFF) and keeps U+0085.
 */
const BLANKS_AROUND = /^\p{White_Space}+|\p{White_Space}+$/gu
export const IntegerString = Schema.transformOrFail(Schema.String, Schema.Number, {
  strict: true,
  decode: (raw, _, ast) => {
    const text = raw.replace(BLANKS_AROUND, "")
    if (!DECIMAL_INTEGER.test(text)) {
      return ParseResult.fail(new ParseResult.Type(ast, raw, "Input should be a valid integer"))
    }
    const n = Number(text)
    return ParseResult.succeed(Number.isFinite(n) ? n : Math.sign(n) * Number.MAX_VALUE)
  },
  encode: (n) => ParseResult.succeed(String(n))
}).annotations({ identifier: "IntegerString", description: "a decimal integer" })

/** An integer that also accepts an integral float (`5.0`) or a numeric string (`"5"`), as the original did. */
export const LaxInt = Schema.Union(integral(Schema.Number), integral(IntegerString)).annotations({
  identifier: "LaxInt",
  jsonSchema: { type: "integer" },
  description: "an integer"
})

/**
 * A lax integer within [minimum, maximum], documented as an integer with those bounds. A composition (not a
 * refinement of `LaxInt`) so that the bound is checked on the decoded number, whatever the input's form, and
 * a 422 names it (`less_than_equal` / `greater_than_equal`, docs/decisions.md D11).
 */
const laxIntWithin = (minimum: number, maximum: number, jsonSchema: Record<string, unknown>) =>
  Schema.compose(LaxInt, Schema.Number.pipe(Schema.between(minimum, maximum))).annotations({
    jsonSchema: { type: "integer", ...jsonSchema, minimum, maximum }
  })

/**
 * A 64-bit-ish integer id for external systems (Telegram, Pachca): lax, and within JS's safe range (the
 * column is a `bigint`, which holds more, but a number beyond ±2^53 cannot be read exactly).
 */
const SAFE_INTEGER = { minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER } as const
export const ExternalId = laxIntWithin(SAFE_INTEGER.minimum, SAFE_INTEGER.maximum, { format: "int64" })

/**
 * An integer carried as text (path segment, query string). Built as a transformation (not a refinement of
 * `NumberFromString`) so that OpenAPI documents it as an integer: JSON Schema generation ignores
 * annotations on a refinement of a transformation and shows the encoded side, "a string".
 */
export const integerFromString = <R>(integer: Schema.Schema<number, number, R>, jsonSchema: Record<string, unknown>) =>
  Schema.compose(IntegerString, integer).annotations({ jsonSchema: { type: "integer", ...jsonSchema } })

/**
 * Ids are PostgreSQL `integer`s: nothing has an id outside this range, and PostgreSQL refuses such a
 * parameter outright (it was a 500). The bounds read as Pydantic's `ge`/`le` in a 422 (`Http/Validation.ts`).
 */
export const INT32 = { minimum: -2_147_483_648, maximum: 2_147_483_647 } as const
export const Int32 = Schema.Int.pipe(
  Schema.filter((n) => n >= INT32.minimum && n <= INT32.maximum, { jsonSchema: { ...INT32 } })
)

/**
 * `Int32` with the range checked first, for ids carried as text: an integer of any length beyond it names the
 * bound (404 in a path, 422 `less_than_equal` in a query), not "not an integer" (`Schema.Int` stops at 2^53).
 */
const Int32FromText = Schema.Number.pipe(
  Schema.filter((n) => n >= INT32.minimum && n <= INT32.maximum, { jsonSchema: { ...INT32 } }),
  Schema.int()
)

/**
 * A lax integer (`LaxInt`) that a PostgreSQL `integer` column holds: ids sent in a body (`room_id`,
 * `country_id`, `facility_ids[]`). Outside the range a 422 names the bound (docs/decisions.md D11).
 */
export const LaxInt32 = laxIntWithin(INT32.minimum, INT32.maximum, { format: "int32" })

/** A lax integer from 0 to the largest `integer` (`price`, `quantity`): beyond either bound a 422 names it. */
export const LaxNonNegativeInt32 = laxIntWithin(0, INT32.maximum, {
  format: "int32",
  description: `An integer from 0 to ${INT32.maximum}`
})

/**
 * An id in a path segment: an integer (`/hotels/0` is a 404, `/hotels/abc` a 422); one outside `integer`'s
 * range names nothing either, so the server answers it 404 as well (`Http/ErrorMapping.ts`).
 */
export const PathId = integerFromString(Int32FromText, { format: "int32", description: "an integer id" })

/** A `bigint` id in a path segment (webhook deliveries): 1 to 2^53 − 1. */
export const PathBigId = integerFromString(
  Schema.Number.pipe(Schema.between(1, Number.MAX_SAFE_INTEGER), Schema.int()),
  {
    format: "int64",
    minimum: 1,
    maximum: Number.MAX_SAFE_INTEGER,
    description: "an integer id"
  }
)

/** An id filter in a query string (`city_id`, …): outside `integer`'s range it is a 422. */
export const QueryId = integerFromString(Int32FromText, { format: "int32" })

const isCalendarDate = (s: string): boolean => {
  const date = new Date(`${s}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(s)
}

/**
 * The check-in and check-out days of the document's examples. They are fixed here, so the document — and
 * the client generated from it — does not change from day to day; the served `/openapi.json` shows them
 * moved to today + 30 and today + 33 (`relativeExampleDates` in `OpenApiDoc.ts`), so "Try it out" on
 * `POST /bookings` books as shipped.
 */
export const EXAMPLE_CHECK_IN = "2026-12-01"
export const EXAMPLE_CHECK_OUT = "2026-12-04"

/** The dates a request may carry: years 0001 to 9999 (PostgreSQL has no year 0; docs/decisions.md D11). */
export const DATE_RANGE = { first: "0001-01-01", last: "9999-12-31" } as const

/**
 * A calendar date `YYYY-MM-DD` (no time, no zone), from 0001-01-01 to 9999-12-31. Kept as the string: SQL
 * `date` takes it as is.
 */
export const DateString = Schema.String.pipe(
  Schema.pattern(/^\d{4}-\d{2}-\d{2}$/),
  Schema.filter(isCalendarDate, { message: () => "Input should be a valid date" }),
  Schema.filter((s) => s >= DATE_RANGE.first, {
    message: () => `Input should be a valid date from ${DATE_RANGE.first} to ${DATE_RANGE.last} (there is no year 0)`
  }),
  Schema.brand("DateString")
).annotations({
  identifier: "Date",
  jsonSchema: {
    type: "string",
    format: "date",
    description: `A calendar date, from ${DATE_RANGE.first} to ${DATE_RANGE.last}`,
    examples: [EXAMPLE_CHECK_IN]
  }
})
export type DateString = typeof DateString.Type

const TIME_INPUT = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.(\d{1,6}))?)?$/

/**
 * A time of day. Input `HH:MM`, `HH:MM:SS` or `HH:MM:SS.ffffff`; output `HH:MM:SS`, with the
 * fraction only when non-zero (docs/api.md §1.2).
 */
export const TimeString = Schema.transform(
  Schema.String.pipe(Schema.pattern(TIME_INPUT, { message: () => "Input should be in a valid time format" })),
  Schema.String,
  {
    strict: true,
    decode: (input) => {
      const [, hh, mm, ss = "00", fraction = ""] = TIME_INPUT.exec(input) ?? []
      const micros = fraction.padEnd(6, "0")
      return `${hh}:${mm}:${ss}${/^0*$/.test(micros) ? "" : `.${micros.replace(/0+$/, "")}`}`
    },
    encode: (time) => time
  }
).annotations({
  identifier: "Time",
  // A `jsonSchema` override replaces the generated schema, so examples and description live inside it.
  // No `format: "time"`: JSON Schema's (RFC 3339) requires a zone offset, and these times have none.
  jsonSchema: {
    type: "string",
    pattern: TIME_INPUT.source,
    description: "A time of day, `HH:MM:SS` with an optional fraction (input also `HH:MM`)",
    examples: ["14:00:00"]
  }
})

/** `timestamptz` rendered as ISO-8601 with `Z` (microseconds omitted when zero). */
export const Timestamp = Schema.String.annotations({
  identifier: "Timestamp",
  jsonSchema: { type: "string", format: "date-time", examples: ["2026-02-12T10:15:30.123456Z"] }
})

/** `page` ≥ 1 (default 1) and `per_page` 1..20 (default 10), docs/api.md §1.6. Defaults apply in the server. */
export const PaginationParams = {
  page: Schema.optional(
    integerFromString(integral(Schema.Number).pipe(Schema.between(1, INT32.maximum)), {
      minimum: 1,
      maximum: INT32.maximum,
      default: 1,
      description: `Page number, from 1 to ${INT32.maximum} (default 1)`
    })
  ),
  per_page: Schema.optional(
    integerFromString(Schema.Number.pipe(Schema.between(1, 20), Schema.int()), {
      minimum: 1,
      maximum: 20,
      default: 10,
      description: "Items per page, 1..20 (default 10)"
    })
  )
}

export const pageOf = (params: { readonly page?: number | undefined; readonly per_page?: number | undefined }) => {
  const page = params.page ?? 1
  const perPage = params.per_page ?? 10
  return { limit: perPage, offset: (page - 1) * perPage } as const
}

/** The body of every write endpoint: `{"status": "OK"}`. */
const messageFields = { status: Schema.Literal("OK") }
export class Message extends Schema.Class<Message>("Message")(
  messageFields,
  modelDoc(messageFields, "Operation succeeded.", { status: "OK" })
) {
  static readonly ok = new Message({ status: "OK" })
}

/**
 * The body of a create (docs/decisions.md D15): the original's `{"status": "OK"}` and the new resource's `id`;
 * the `Location` header says where to read it. Clients of the original ignore the added member.
 */
const createdFields = { status: Schema.Literal("OK"), id: Schema.Int }
export class Created extends Schema.Class<Created>("Created")(
  createdFields,
  modelDoc(createdFields, "Created: `id` is the new resource's id and the `Location` header its address.", {
    status: "OK",
    id: 1
  })
) {
  static readonly of = (id: number) => new Created({ status: "OK", id })
}

/** How the creates' descriptions in the document say what they answer (docs/decisions.md D15). */
export const CREATED =
  'Answers `{"status": "OK", "id": <new id>}` and `Location`, the new resource\'s path (after `ROOT_PATH` when ' +
  'the service has one), with the original\'s status (D15: the original answered `{"status": "OK"}` alone).'

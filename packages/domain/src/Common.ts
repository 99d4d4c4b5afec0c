/**
 * Building blocks shared by every group: ids, lax integers, dates and times, pagination, `Message`.
 * Wire formats follow docs/api.md §1.2.
 */
import { Schema } from "effect"

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

/** An integer that also accepts an integral float (`5.0`) or a numeric string (`"5"`), as the original did. */
export const LaxInt = Schema.Union(Schema.Int, Schema.NumberFromString.pipe(Schema.int())).annotations({
  identifier: "LaxInt",
  jsonSchema: { type: "integer" },
  description: "an integer"
})

/** A 64-bit-ish integer id for external systems (Telegram, Pachca): lax, and within JS's safe range. */
export const ExternalId = LaxInt.pipe(
  Schema.filter((n) => Number.isSafeInteger(n), { message: () => "Input should be a valid integer" })
).annotations({ jsonSchema: { type: "integer", format: "int64" } })

/**
 * An integer carried as text (path segment, query string). Built as a transformation (not a refinement of
 * `NumberFromString`) so that OpenAPI documents it as an integer: JSON Schema generation ignores
 * annotations on a refinement of a transformation and shows the encoded side, "a string".
 */
const integerFromString = <R>(integer: Schema.Schema<number, number, R>, jsonSchema: Record<string, unknown>) =>
  Schema.compose(Schema.NumberFromString, integer).annotations({ jsonSchema: { type: "integer", ...jsonSchema } })

/**
 * Ids are PostgreSQL `integer`s: nothing has an id outside this range, and PostgreSQL refuses such a
 * parameter outright (it was a 500). The bounds read as Pydantic's `ge`/`le` in a 422 (`Http/Validation.ts`).
 */
export const INT32 = { minimum: -2_147_483_648, maximum: 2_147_483_647 } as const
export const Int32 = Schema.Int.pipe(
  Schema.filter((n) => n >= INT32.minimum && n <= INT32.maximum, { jsonSchema: { ...INT32 } })
)

/**
 * An id in a path segment: an integer (`/hotels/0` is a 404, `/hotels/abc` a 422); one outside `integer`'s
 * range names nothing either, so the server answers it 404 as well (`Http/ErrorMapping.ts`).
 */
export const PathId = integerFromString(Int32, { format: "int32", description: "an integer id" })

/** An id filter in a query string (`city_id`, …): outside `integer`'s range it is a 422. */
export const QueryId = integerFromString(Int32, { format: "int32" })

const isCalendarDate = (s: string): boolean => {
  const date = new Date(`${s}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(s)
}

/** A calendar date `YYYY-MM-DD` (no time, no zone). Kept as the string: SQL `date` takes it as is. */
export const DateString = Schema.String.pipe(
  Schema.pattern(/^\d{4}-\d{2}-\d{2}$/),
  Schema.filter(isCalendarDate, { message: () => "Input should be a valid date" }),
  Schema.brand("DateString")
).annotations({
  identifier: "Date",
  jsonSchema: { type: "string", format: "date", examples: ["2026-12-01"] }
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
    integerFromString(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), {
      minimum: 1,
      default: 1,
      description: "Page number, from 1 (default 1)"
    })
  ),
  per_page: Schema.optional(
    integerFromString(Schema.Int.pipe(Schema.between(1, 20)), {
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

/**
 * Every error the API answers with, as RFC 9457 problem documents (docs/decisions.md D9).
 *
 * On the wire an error is `{"type", "title", "status", "detail"}` served as `application/problem+json`;
 * `detail` keeps the original service's Russian literal (see `Messages.ts`). In code an error is one class
 * (`NotFound`, `Conflict`, …): a `Schema.TaggedError` whose schema *is* its problem document, so the server
 * encodes, and `HttpApiClient` decodes, the same document without a `_tag` on the wire, and there is no second
 * name that could be used by mistake.
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import type * as AST from "effect/SchemaAST"
import { type Cause, Schema } from "effect"
import { Messages } from "./Messages.js"

export const ProblemContentType = "application/problem+json"

/** One request-validation problem, in the FastAPI/Pydantic format the original used (docs/api.md §1.4). */
export const ValidationIssue = Schema.Struct({
  type: Schema.String,
  loc: Schema.Array(Schema.Union(Schema.String, Schema.Int)),
  msg: Schema.String,
  input: Schema.optional(Schema.Unknown),
  ctx: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
}).annotations({ identifier: "ValidationIssue" })
export type ValidationIssue = typeof ValidationIssue.Type

interface ProblemMeta<Status extends number, DetailEncoded> {
  readonly status: Status
  readonly type: string
  readonly title: string
  readonly description: string
  /** The `detail` of the documented example (OpenAPI examples, D8). */
  readonly example: DetailEncoded
  /** 429 repeats `detail` under `error`, as the original did (D4). */
  readonly errorMember?: true
}

/** What an error is on the wire. */
export interface ProblemDocument<Status extends number, DetailEncoded> {
  readonly type: string
  readonly title: string
  readonly status: Status
  readonly detail: DetailEncoded
  readonly error?: string
}

/** An error class whose schema is its problem document (`Schema.encode(NotFound)(error)` is the wire JSON). */
export interface ProblemClass<
  Self,
  Tag extends string,
  Detail extends Schema.Schema.AnyNoContext,
  Status extends number
> extends Schema.Schema<Self, ProblemDocument<Status, Schema.Schema.Encoded<Detail>>> {
  new (
    props: { readonly detail: Schema.Schema.Type<Detail> },
    options?: Schema.MakeOptions
  ): Cause.YieldableError & { readonly _tag: Tag; readonly detail: Schema.Schema.Type<Detail> }
  readonly status: Status
}

/**
 * A `Schema.TaggedError` with one field, `detail`, whose schema is the problem document: the class's own
 * (`{_tag, detail}`) encoding is wrapped in `{type, title, status, detail}` — the `_tag` is implied by `type`,
 * so it is dropped on encode and restored on decode.
 */
const ProblemError =
  <Self>() =>
  <Tag extends string, Detail extends Schema.Schema.AnyNoContext, Status extends number>(
    tag: Tag,
    detail: Detail,
    meta: ProblemMeta<Status, Schema.Schema.Encoded<Detail>>
  ): ProblemClass<Self, Tag, Detail, Status> => {
    const head = { type: Schema.Literal(meta.type), title: Schema.String, status: Schema.Literal(meta.status) }
    const wire = (meta.errorMember
      ? Schema.Struct({ ...head, error: Schema.String, detail: Schema.encodedSchema(detail) })
      : Schema.Struct({ ...head, detail: Schema.encodedSchema(detail) })) as unknown as Schema.Schema<
      ProblemDocument<Status, unknown>
    >
    const toWire = (detail: unknown): ProblemDocument<Status, unknown> => ({
      type: meta.type,
      title: meta.title,
      status: meta.status,
      ...(meta.errorMember ? { error: String(detail) } : {}),
      detail
    })
    const Base = Schema.TaggedError<{ readonly _tag: string; readonly detail: unknown }>()(tag as string, {
      detail: detail as Schema.Schema<unknown>
    })
    const asts = new WeakMap<object, AST.Transformation>()
    class Problem extends Base {
      static readonly status = meta.status
      static override get ast(): AST.Transformation {
        let ast = asts.get(this)
        if (ast === undefined) {
          const document = Schema.transform(wire, Schema.make<Problem, { _tag: string; detail: unknown }>(super.ast), {
            strict: true,
            decode: (problem) => ({ _tag: tag, detail: problem.detail }),
            encode: (error) => toWire(error.detail)
          }).pipe(HttpApiSchema.withEncoding({ kind: "Json", contentType: ProblemContentType }))
          ast = document.annotations(
            HttpApiSchema.annotations({
              status: meta.status,
              identifier: tag,
              title: meta.title,
              description: meta.description,
              examples: [Schema.decodeSync(document)(toWire(meta.example))]
            })
          ).ast as AST.Transformation // annotating keeps the transformation
          asts.set(this, ast)
        }
        return ast
      }
    }
    return Problem as unknown as ProblemClass<Self, Tag, Detail, Status>
  }

// --- 400 -------------------------------------------------------------------------------------------

export class BadRequest extends ProblemError<BadRequest>()("BadRequest", Schema.String, {
  status: 400,
  type: "/problems/bad-request",
  title: "Bad Request",
  description: "The request is well-formed but cannot be carried out as asked.",
  example: Messages.roomOfAnotherHotel
}) {}

export class InvalidDateRange extends ProblemError<InvalidDateRange>()("InvalidDateRange", Schema.String, {
  status: 400,
  type: "/problems/invalid-date-range",
  title: "Invalid date range",
  description: "`date_from` must be before `date_to` (and, for a booking, not in the past).",
  example: Messages.stayInvalid
}) {}

// --- 401 / 403 -------------------------------------------------------------------------------------

/** A missing, malformed, expired or revoked access token. The server adds `WWW-Authenticate: Bearer`. */
export class Unauthorized extends ProblemError<Unauthorized>()("Unauthorized", Schema.String, {
  status: 401,
  type: "/problems/unauthorized",
  title: "Unauthorized",
  description: "No valid access token (cookie `access_token` or `Authorization: Bearer`).",
  example: Messages.tokenMissing
}) {}

/** Wrong e-mail, password or refresh token at login/refresh (no `WWW-Authenticate`, as in the original). */
export class InvalidCredentials extends ProblemError<InvalidCredentials>()("InvalidCredentials", Schema.String, {
  status: 401,
  type: "/problems/invalid-credentials",
  title: "Invalid credentials",
  description: "Unknown e-mail, wrong password, or an invalid, revoked or expired refresh token.",
  example: Messages.wrongPassword
}) {}

export class Forbidden extends ProblemError<Forbidden>()("Forbidden", Schema.String, {
  status: 403,
  type: "/problems/forbidden",
  title: "Forbidden",
  description: "Signed in, but without the right for this operation (docs/decisions.md D1).",
  example: Messages.forbidden
}) {}

// --- 404 / 405 -------------------------------------------------------------------------------------

export class NotFound extends ProblemError<NotFound>()("NotFound", Schema.String, {
  status: 404,
  type: "/problems/not-found",
  title: "Not Found",
  description: "The resource (or the path) does not exist.",
  example: Messages.hotelNotFound
}) {}

export class MethodNotAllowed extends ProblemError<MethodNotAllowed>()("MethodNotAllowed", Schema.String, {
  status: 405,
  type: "/problems/method-not-allowed",
  title: "Method Not Allowed",
  description: "The path exists, but not for this method; see the `Allow` header.",
  example: Messages.methodNotAllowed
}) {}

// --- 409 -------------------------------------------------------------------------------------------

/** A uniqueness rule of the API (`… уже существует`). */
export class Conflict extends ProblemError<Conflict>()("Conflict", Schema.String, {
  status: 409,
  type: "/problems/conflict",
  title: "Conflict",
  description: "The request conflicts with existing data (for example a name that is already used).",
  example: Messages.hotelTitleTaken("Гранд Отель Москва")
}) {}

/** A database constraint refused the write (E-90), e.g. deleting a country that still has cities. */
export class IntegrityViolation extends ProblemError<IntegrityViolation>()("IntegrityViolation", Schema.String, {
  status: 409,
  type: "/problems/integrity-violation",
  title: "Integrity violation",
  description: "A data-integrity constraint refused the operation.",
  example: Messages.integrityViolation
}) {}

export class RoomUnavailable extends ProblemError<RoomUnavailable>()("RoomUnavailable", Schema.String, {
  status: 409,
  type: "/problems/room-unavailable",
  title: "Room unavailable",
  description: "Every unit of this room type is taken on at least one night of the stay.",
  example: Messages.roomSoldOut
}) {}

/** Too many active holds of one user (docs/api.md §8.9, `MAX_ACTIVE_HOLDS_PER_USER`). */
export class TooManyHolds extends ProblemError<TooManyHolds>()("TooManyHolds", Schema.String, {
  status: 409,
  type: "/problems/too-many-holds",
  title: "Too many holds",
  description:
    "The caller already has `MAX_ACTIVE_HOLDS_PER_USER` active holds: confirm or release one, or let it expire.",
  example: Messages.tooManyHolds(5)
}) {}

/** A hold that is no longer active: confirmed (and is released), or released (and is confirmed). */
export class HoldNotActive extends ProblemError<HoldNotActive>()("HoldNotActive", Schema.String, {
  status: 409,
  type: "/problems/hold-not-active",
  title: "Hold not active",
  description: "The hold was released (it cannot be confirmed) or confirmed (it cannot be released).",
  example: Messages.holdNotActive
}) {}

// --- 410 -------------------------------------------------------------------------------------------

/** A hold confirmed after its `expires_at`: its units went back to the inventory. */
export class HoldExpired extends ProblemError<HoldExpired>()("HoldExpired", Schema.String, {
  status: 410,
  type: "/problems/hold-expired",
  title: "Hold expired",
  description: "The hold's `expires_at` passed before the confirm; its units are free again. Place a new hold.",
  example: Messages.holdExpired
}) {}

// --- 413 / 422 / 429 -------------------------------------------------------------------------------

export class PayloadTooLarge extends ProblemError<PayloadTooLarge>()("PayloadTooLarge", Schema.String, {
  status: 413,
  type: "/problems/payload-too-large",
  title: "Payload Too Large",
  description:
    "The body exceeds its limit: an uploaded file `MAX_IMAGE_FILE_SIZE_MB`, any other request body " +
    "`MAX_JSON_BODY_KB`.",
  example: Messages.fileTooLarge(10)
}) {}

export class ValidationError extends ProblemError<ValidationError>()("ValidationError", Schema.Array(ValidationIssue), {
  status: 422,
  type: "/problems/validation-error",
  title: "Unprocessable Entity",
  description:
    "Request validation failed; `detail` lists every problem (FastAPI format: `type`, `loc`, `msg`, `input`). " +
    "`input` repeats at most 200 characters of the value (cut with `…`) and is left out for password fields; " +
    "JSON nested deeper than 64 levels is a `json_too_deep` problem.",
  example: [{ type: "missing", loc: ["body", "email"], msg: "Field required", input: {} }]
}) {}

/** 429 keeps the original's `error` member next to `detail` (same text), see docs/decisions.md D4. */
export class RateLimited extends ProblemError<RateLimited>()("RateLimited", Schema.String, {
  status: 429,
  type: "/problems/rate-limited",
  title: "Too Many Requests",
  description: "Rate limit exceeded; see `Retry-After` and the `RateLimit-*` headers.",
  example: Messages.rateLimitExceeded(5),
  errorMember: true
}) {}

// --- 5xx -------------------------------------------------------------------------------------------

export class InternalError extends ProblemError<InternalError>()("InternalError", Schema.String, {
  status: 500,
  type: "/problems/internal-error",
  title: "Internal Server Error",
  description: "An unexpected error; the server logged it with the request id.",
  example: Messages.internalError
}) {}

export class ServiceUnavailable extends ProblemError<ServiceUnavailable>()("ServiceUnavailable", Schema.String, {
  status: 503,
  type: "/problems/service-unavailable",
  title: "Service Unavailable",
  description:
    "A dependency is unavailable (the database; for an upload, the image job queue): nothing was stored. " +
    "Retry after `Retry-After` seconds.",
  example: Messages.databaseUnavailable
}) {}

/** Every error of the API by name, for the server's error mapping and for documentation. */
export const Problems = {
  BadRequest,
  InvalidDateRange,
  Unauthorized,
  InvalidCredentials,
  Forbidden,
  NotFound,
  MethodNotAllowed,
  Conflict,
  IntegrityViolation,
  RoomUnavailable,
  TooManyHolds,
  HoldNotActive,
  HoldExpired,
  PayloadTooLarge,
  ValidationError,
  RateLimited,
  InternalError,
  ServiceUnavailable
} as const

export type ApiError = Schema.Schema.Type<(typeof Problems)[keyof typeof Problems]>

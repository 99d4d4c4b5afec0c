/**
 * Every error the API answers with, as RFC 9457 problem documents (docs/decisions.md D9).
 *
 * On the wire an error is `{"type", "title", "status", "detail"}` served as `application/problem+json`;
 * `detail` keeps the original service's Russian literal (see `Messages.ts`). In code an error is a
 * `Schema.TaggedError` instance; `problem(...)` builds the schema that turns one into the other, so the
 * server encodes, and `HttpApiClient` decodes, the same document without a `_tag` on the wire.
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema } from "effect"
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

interface ProblemMeta<Status extends number> {
  readonly status: Status
  readonly type: string
  readonly title: string
  readonly description: string
}

const problemFields = <Status extends number>(meta: ProblemMeta<Status>) => ({
  type: Schema.Literal(meta.type),
  title: Schema.String,
  status: Schema.Literal(meta.status)
})

/**
 * The wire schema of an error class whose only field is `detail`.
 * The class's `_tag` is implied by `type`, so it is dropped on encode and restored on decode.
 */
const problem = <
  Self extends { readonly _tag: Tag; readonly detail: Detail },
  Tag extends string,
  Detail,
  DetailEncoded,
  Status extends number
>(
  cls: Schema.Schema<Self, { readonly _tag: Tag; readonly detail: DetailEncoded }>,
  tag: Tag,
  detail: Schema.Schema<Detail, DetailEncoded>,
  meta: ProblemMeta<Status> & { readonly example: DetailEncoded }
) => {
  const schema = Schema.transform(
    Schema.Struct({ ...problemFields(meta), detail: Schema.encodedSchema(detail) }),
    cls,
    {
      strict: true,
      decode: (wire) => ({ _tag: tag, detail: wire.detail }),
      encode: (error) => ({ type: meta.type, title: meta.title, status: meta.status, detail: error.detail })
    }
  ).pipe(HttpApiSchema.withEncoding({ kind: "Json", contentType: ProblemContentType }))
  // The documented example is the wire document of a typical error (OpenAPI examples, D8).
  const example = Schema.decodeSync(schema)({
    type: meta.type,
    title: meta.title,
    status: meta.status,
    detail: meta.example
  })
  return schema.annotations(
    HttpApiSchema.annotations({
      status: meta.status,
      identifier: tag,
      title: meta.title,
      description: meta.description,
      examples: [example]
    })
  )
}

// --- 400 -------------------------------------------------------------------------------------------

export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { detail: Schema.String }) {}
export const BadRequestProblem = problem(BadRequest, "BadRequest", Schema.String, {
  status: 400,
  type: "/problems/bad-request",
  title: "Bad Request",
  description: "The request is well-formed but cannot be carried out as asked.",
  example: Messages.roomOfAnotherHotel
})

export class InvalidDateRange extends Schema.TaggedError<InvalidDateRange>()("InvalidDateRange", {
  detail: Schema.String
}) {}
export const InvalidDateRangeProblem = problem(InvalidDateRange, "InvalidDateRange", Schema.String, {
  status: 400,
  type: "/problems/invalid-date-range",
  title: "Invalid date range",
  description: "`date_from` must be before `date_to` (and, for a booking, not in the past).",
  example: Messages.stayInvalid
})

// --- 401 / 403 -------------------------------------------------------------------------------------

/** A missing, malformed, expired or revoked access token. The server adds `WWW-Authenticate: Bearer`. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", { detail: Schema.String }) {}
export const UnauthorizedProblem = problem(Unauthorized, "Unauthorized", Schema.String, {
  status: 401,
  type: "/problems/unauthorized",
  title: "Unauthorized",
  description: "No valid access token (cookie `access_token` or `Authorization: Bearer`).",
  example: Messages.tokenMissing
})

/** Wrong e-mail, password or refresh token at login/refresh (no `WWW-Authenticate`, as in the original). */
export class InvalidCredentials extends Schema.TaggedError<InvalidCredentials>()("InvalidCredentials", {
  detail: Schema.String
}) {}
export const InvalidCredentialsProblem = problem(InvalidCredentials, "InvalidCredentials", Schema.String, {
  status: 401,
  type: "/problems/invalid-credentials",
  title: "Invalid credentials",
  description: "Unknown e-mail, wrong password, or an invalid, revoked or expired refresh token.",
  example: Messages.wrongPassword
})

export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", { detail: Schema.String }) {}
export const ForbiddenProblem = problem(Forbidden, "Forbidden", Schema.String, {
  status: 403,
  type: "/problems/forbidden",
  title: "Forbidden",
  description: "Signed in, but without the right for this operation (docs/decisions.md D1).",
  example: Messages.forbidden
})

// --- 404 / 405 -------------------------------------------------------------------------------------

export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { detail: Schema.String }) {}
export const NotFoundProblem = problem(NotFound, "NotFound", Schema.String, {
  status: 404,
  type: "/problems/not-found",
  title: "Not Found",
  description: "The resource (or the path) does not exist.",
  example: Messages.hotelNotFound
})

export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", {
  detail: Schema.String
}) {}
export const MethodNotAllowedProblem = problem(MethodNotAllowed, "MethodNotAllowed", Schema.String, {
  status: 405,
  type: "/problems/method-not-allowed",
  title: "Method Not Allowed",
  description: "The path exists, but not for this method; see the `Allow` header.",
  example: Messages.methodNotAllowed
})

// --- 409 -------------------------------------------------------------------------------------------

/** A uniqueness rule of the API (`… уже существует`). */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", { detail: Schema.String }) {}
export const ConflictProblem = problem(Conflict, "Conflict", Schema.String, {
  status: 409,
  type: "/problems/conflict",
  title: "Conflict",
  description: "The request conflicts with existing data (for example a name that is already used).",
  example: Messages.hotelTitleTaken("Гранд Отель Москва")
})

/** A database constraint refused the write (E-90), e.g. deleting a country that still has cities. */
export class IntegrityViolation extends Schema.TaggedError<IntegrityViolation>()("IntegrityViolation", {
  detail: Schema.String
}) {}
export const IntegrityViolationProblem = problem(IntegrityViolation, "IntegrityViolation", Schema.String, {
  status: 409,
  type: "/problems/integrity-violation",
  title: "Integrity violation",
  description: "A data-integrity constraint refused the operation.",
  example: Messages.integrityViolation
})

export class RoomUnavailable extends Schema.TaggedError<RoomUnavailable>()("RoomUnavailable", {
  detail: Schema.String
}) {}
export const RoomUnavailableProblem = problem(RoomUnavailable, "RoomUnavailable", Schema.String, {
  status: 409,
  type: "/problems/room-unavailable",
  title: "Room unavailable",
  description: "Every unit of this room type is taken on at least one night of the stay.",
  example: Messages.roomSoldOut
})

// --- 413 / 422 / 429 -------------------------------------------------------------------------------

export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  detail: Schema.String
}) {}
export const PayloadTooLargeProblem = problem(PayloadTooLarge, "PayloadTooLarge", Schema.String, {
  status: 413,
  type: "/problems/payload-too-large",
  title: "Payload Too Large",
  description:
    "The body exceeds its limit: an uploaded file `MAX_IMAGE_FILE_SIZE_MB`, any other request body " +
    "`MAX_JSON_BODY_KB`.",
  example: Messages.fileTooLarge(10)
})

export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", {
  detail: Schema.Array(ValidationIssue)
}) {}
export const ValidationErrorProblem = problem(ValidationError, "ValidationError", Schema.Array(ValidationIssue), {
  status: 422,
  type: "/problems/validation-error",
  title: "Unprocessable Entity",
  description:
    "Request validation failed; `detail` lists every problem (FastAPI format: `type`, `loc`, `msg`, `input`). " +
    "`input` repeats at most 200 characters of the value (cut with `…`) and is left out for password fields; " +
    "JSON nested deeper than 64 levels is a `json_too_deep` problem.",
  example: [{ type: "missing", loc: ["body", "email"], msg: "Field required", input: {} }]
})

/** 429 keeps the original's `error` member next to `detail` (same text), see docs/decisions.md D4. */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", { detail: Schema.String }) {}
export const RateLimitedProblem = Schema.transform(
  Schema.Struct({
    ...problemFields({ status: 429, type: "/problems/rate-limited", title: "Too Many Requests", description: "" }),
    error: Schema.String,
    detail: Schema.String
  }),
  RateLimited,
  {
    strict: true,
    decode: (wire) => ({ _tag: "RateLimited" as const, detail: wire.detail }),
    encode: (error) => ({
      type: "/problems/rate-limited" as const,
      title: "Too Many Requests",
      status: 429 as const,
      error: error.detail,
      detail: error.detail
    })
  }
).pipe(HttpApiSchema.withEncoding({ kind: "Json", contentType: ProblemContentType }), (schema) =>
  schema.annotations(
    HttpApiSchema.annotations({
      status: 429,
      identifier: "RateLimited",
      title: "Too Many Requests",
      description: "Rate limit exceeded; see `Retry-After` and the `RateLimit-*` headers.",
      examples: [new RateLimited({ detail: Messages.rateLimitExceeded(5) })]
    })
  )
)

// --- 5xx -------------------------------------------------------------------------------------------

export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", { detail: Schema.String }) {}
export const InternalErrorProblem = problem(InternalError, "InternalError", Schema.String, {
  status: 500,
  type: "/problems/internal-error",
  title: "Internal Server Error",
  description: "An unexpected error; the server logged it with the request id.",
  example: Messages.internalError
})

export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", {
  detail: Schema.String
}) {}
export const ServiceUnavailableProblem = problem(ServiceUnavailable, "ServiceUnavailable", Schema.String, {
  status: 503,
  type: "/problems/service-unavailable",
  title: "Service Unavailable",
  description:
    "A dependency is unavailable (the database; for an upload, the image job queue): nothing was stored. " +
    "Retry after `Retry-After` seconds.",
  example: Messages.databaseUnavailable
})

/** Every problem schema, for the server's error mapping and for documentation. */
export const Problems = {
  BadRequest: BadRequestProblem,
  InvalidDateRange: InvalidDateRangeProblem,
  Unauthorized: UnauthorizedProblem,
  InvalidCredentials: InvalidCredentialsProblem,
  Forbidden: ForbiddenProblem,
  NotFound: NotFoundProblem,
  MethodNotAllowed: MethodNotAllowedProblem,
  Conflict: ConflictProblem,
  IntegrityViolation: IntegrityViolationProblem,
  RoomUnavailable: RoomUnavailableProblem,
  PayloadTooLarge: PayloadTooLargeProblem,
  ValidationError: ValidationErrorProblem,
  RateLimited: RateLimitedProblem,
  InternalError: InternalErrorProblem,
  ServiceUnavailable: ServiceUnavailableProblem
} as const

export type ApiError = Schema.Schema.Type<(typeof Problems)[keyof typeof Problems]>

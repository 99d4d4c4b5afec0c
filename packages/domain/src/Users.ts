/**
 * Users, tokens and the auth/user request bodies (docs/api.md §2, §4, §7, §8.1; docs/decisions.md D1).
 */
import { Schema } from "effect"
import { ErrorType, ExternalId, maxChars, minChars, modelDoc, Text } from "./Common.js"
import { Email } from "./Email.js"

/** D1: every user has a role; registration gives `user`, admins come from the environment or an admin. */
export const Role = Schema.Literal("user", "admin").annotations({ identifier: "Role" })
export type Role = typeof Role.Type

/** bcrypt reads no further than this many bytes: a longer password would be silently shortened. */
const PASSWORD_MAX_BYTES = 72

/** The length of a string in UTF-8 bytes (what bcrypt reads). */
const utf8Length = (s: string): number => new TextEncoder().encode(s).length

/**
 * 8..72 characters (docs/api.md §4.2) and at most 72 bytes in UTF-8 (docs/decisions.md D12), on register, login
 * and password changes: beyond is a 422, never a password silently cut to its first 72 bytes.
 */
export const Password = Text.pipe(
  minChars(8),
  maxChars(72),
  Schema.filter((s) => utf8Length(s) <= PASSWORD_MAX_BYTES, {
    message: () => `Value error, a password must be at most ${PASSWORD_MAX_BYTES} bytes in UTF-8`
  })
).annotations({
  description:
    "8..72 characters and at most 72 bytes in UTF-8 (bcrypt reads no further): 72 Cyrillic letters " +
    "(144 bytes) are a 422, never silently shortened.",
  examples: ["s3cret-pass"]
})

const Name = Text.pipe(maxChars(100))

// --- responses -------------------------------------------------------------------------------------

const userFields = {
  id: Schema.Int,
  email: Schema.String,
  first_name: Schema.NullOr(Schema.String),
  last_name: Schema.NullOr(Schema.String),
  telegram_id: Schema.NullOr(Schema.Int),
  pachca_id: Schema.NullOr(Schema.Int),
  role: Role
}
export class User extends Schema.Class<User>("User")(
  userFields,
  modelDoc(userFields, "A user. Never carries a password or its hash. `role` is new (D1).", {
    id: 1,
    email: "ivan.petrov@example.com",
    first_name: "Иван",
    last_name: "Петров",
    telegram_id: 123456789,
    pachca_id: null,
    role: "user"
  })
) {}

const tokenFields = {
  access_token: Schema.String,
  refresh_token: Schema.String,
  token_type: Schema.Literal("bearer")
}
export class Token extends Schema.Class<Token>("Token")(
  tokenFields,
  modelDoc(
    tokenFields,
    "An access token (JWT, also set as the `access_token` cookie) and an opaque refresh token (body only).",
    {
      access_token:
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwiZW1haWwiOiJpdmFuLnBldHJvdkBleGFtcGxlLmNvbSJ9.c2lnbmF0dXJl",
      refresh_token: "dGhpcy1pcy1hLXJlZnJlc2gtdG9rZW4tZXhhbXBsZS0xMjM",
      token_type: "bearer"
    }
  )
) {}

// --- request bodies --------------------------------------------------------------------------------

const registerFields = {
  email: Email,
  password: Password,
  first_name: Schema.optional(Schema.NullOr(Name)),
  last_name: Schema.optional(Schema.NullOr(Name)),
  telegram_id: Schema.optional(Schema.NullOr(ExternalId)),
  pachca_id: Schema.optional(Schema.NullOr(ExternalId))
}
export class UserRegister extends Schema.Class<UserRegister>("UserRegister")(
  registerFields,
  modelDoc(registerFields, "Registration. The e-mail is stored normalised; the role is always `user`.", {
    email: "ivan.petrov@example.com",
    password: "s3cret-pass",
    first_name: "Иван",
    last_name: "Петров",
    telegram_id: 123456789,
    pachca_id: null
  })
) {}

const loginFields = { email: Email, password: Password }
export class UserLogin extends Schema.Class<UserLogin>("UserLogin")(
  loginFields,
  modelDoc(loginFields, "Sign-in by e-mail and password (a 7-character password is a 422, not a 401).", {
    email: "ivan.petrov@example.com",
    password: "s3cret-pass"
  })
) {}

const refreshFields = { refresh_token: Text }
export class RefreshRequest extends Schema.Class<RefreshRequest>("RefreshRequest")(
  refreshFields,
  modelDoc(refreshFields, "A refresh token from a previous login or refresh.", {
    refresh_token: "dGhpcy1pcy1hLXJlZnJlc2gtdG9rZW4tZXhhbXBsZS0xMjM"
  })
) {}

/**
 * D1: a client-supplied hash is never stored. The field is declared only so that sending it fails
 * with a clear 422 (`extra_forbidden`), where effect would otherwise silently ignore it.
 */
const RejectedHashedPassword = Schema.optionalWith(
  Schema.Never.annotations({
    message: () => "Extra inputs are not permitted: `hashed_password` is not accepted, send `password` instead",
    description: "Not accepted (422): send the new password as `password`.",
    [ErrorType]: "extra_forbidden"
  }),
  // `exact`: no `| undefined` alternative, so a sent value yields this one issue only.
  { exact: true }
)

// PUT: `email` is required; `null` or an absent field leaves the stored value unchanged (docs/api.md U3).
const updateFields = {
  email: Email,
  password: Schema.optional(Schema.NullOr(Password)),
  hashed_password: RejectedHashedPassword,
  first_name: Schema.optional(Schema.NullOr(Name)),
  last_name: Schema.optional(Schema.NullOr(Name)),
  telegram_id: Schema.optional(Schema.NullOr(ExternalId)),
  pachca_id: Schema.optional(Schema.NullOr(ExternalId)),
  role: Schema.optional(Schema.NullOr(Role))
}
export class UserUpdate extends Schema.Class<UserUpdate>("UserUpdate")(
  updateFields,
  modelDoc(
    updateFields,
    "Full update (PUT). `null` or an absent field keeps the stored value. A new password goes in `password` " +
      "(hashed by the server); `hashed_password` is refused with 422. Only an admin may send `role`.",
    { email: "ivan.petrov@example.com", first_name: "Иван", last_name: "Петров", telegram_id: null }
  )
) {}

/**
 * PATCH: the fields present are written, `null` clears a nullable column; `null` for `email`,
 * `password` or `role` (never empty) is a 422 (D9; the original answered 409 from the database).
 */
const patchFields = {
  email: Schema.optional(Email),
  password: Schema.optional(Password),
  hashed_password: RejectedHashedPassword,
  first_name: Schema.optional(Schema.NullOr(Name)),
  last_name: Schema.optional(Schema.NullOr(Name)),
  telegram_id: Schema.optional(Schema.NullOr(ExternalId)),
  pachca_id: Schema.optional(Schema.NullOr(ExternalId)),
  role: Schema.optional(Role)
}
export class UserPatch extends Schema.Class<UserPatch>("UserPatch")(
  patchFields,
  modelDoc(
    patchFields,
    "Partial update (PATCH): only the fields sent are written; `null` clears a name or an external id. " +
      "`hashed_password` is refused with 422. Only an admin may send `role`.",
    { first_name: "Пётр", pachca_id: null }
  )
) {}

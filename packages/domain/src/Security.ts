/**
 * Who may call what (docs/decisions.md D1, docs/api.md §4.1).
 *
 * Two security middlewares, applied per endpoint, both providing the caller as `CurrentUser`:
 * - `Authentication`: any signed-in user (401 without valid credentials);
 * - `AdminAuthentication`: an admin (401 without valid credentials, 403 `Недостаточно прав` otherwise).
 * Endpoints that allow "yourself or an admin" use `Authentication` and check the rest in the handler.
 * - `DeferredAuthentication`: any signed-in user too, for the writes that check the session in their own
 *   statement (docs/decisions.md D13): the token is verified here, and the rest of the check — the user
 *   exists, the token was not logged out, its version is current — is the write's first step. It provides
 *   nothing to the handler's context: the server keeps the request's `UncheckedSession`, opaque, with the
 *   request's state, where the endpoint's handler reads it (a service provided by a middleware is a copy of the
 *   request's context and two fiber-local updates on every write; issue 18). The same 401s, the same OpenAPI
 *   document.
 *
 * The access token travels in the `access_token` cookie or as `Authorization: Bearer <jwt>`. HttpApi tries
 * the schemes in the order declared here and keeps the first success; docs/api.md §4.1 wants a non-empty cookie
 * to win even when it is invalid, so the server's handlers read both themselves, cookie first, whichever
 * scheme HttpApi tried. Bearer is declared first: HttpApi reads it without a schema, while reading the
 * cookie scheme when there is no cookie builds a parse error (a stack trace) on every request.
 */
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as OpenApi from "@effect/platform/OpenApi"
import { Context, Schema } from "effect"
import { Forbidden, Unauthorized } from "./Errors.js"
import type { Role } from "./Users.js"

/** The caller, as established from a verified, unrevoked access token. */
export interface AuthenticatedUser {
  readonly id: number
  readonly email: string
  readonly role: Role
  /** The token's `jti`: logout revokes it until it expires (D3). */
  readonly jti: string
  /** The token's `exp`, epoch seconds. */
  readonly expiresAt: number
}

/** Brands `UncheckedSession`. */
export const UncheckedSessionId: unique symbol = Symbol.for("@shum/domain/UncheckedSession")

/**
 * The caller of a `DeferredAuthentication` endpoint: a verified token whose session is not checked yet.
 * Opaque on purpose — nothing in it can be read but by the server's repository call that checks the session
 * in its own statement (`packages/server/src/Auth/DeferredSession.ts`; docs/decisions.md D13), so a handler
 * cannot act on the user without that check. The handler takes it from the request (`withRequestSession`
 * there), not from its context.
 */
export interface UncheckedSession {
  readonly [UncheckedSessionId]: typeof UncheckedSessionId
}

export class CurrentUser extends Context.Tag("@shum/domain/CurrentUser")<CurrentUser, AuthenticatedUser>() {}

export const isAdmin = (user: AuthenticatedUser): boolean => user.role === "admin"

/** D1: a user may act on their own account; an admin on any. */
export const canActOnUser = (user: AuthenticatedUser, userId: number): boolean => isAdmin(user) || user.id === userId

const cookie = HttpApiSecurity.apiKey({ in: "cookie", key: "access_token" }).pipe(
  HttpApiSecurity.annotate(
    OpenApi.Description,
    "The access token in the `access_token` cookie set by `/auth/login` and `/auth/refresh`. " +
      "When present and non-empty it is used and the `Authorization` header is ignored."
  )
)

const bearer = HttpApiSecurity.bearer.pipe(
  HttpApiSecurity.annotate(
    OpenApi.Description,
    "`Authorization: Bearer <access_token>` (exactly `Bearer ` and one space), used when there is no cookie."
  ),
  HttpApiSecurity.annotate(OpenApi.Format, "JWT")
)

export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("@shum/domain/Authentication", {
  failure: Unauthorized,
  provides: CurrentUser,
  security: { bearer, cookie }
}) {}

export class AdminAuthentication extends HttpApiMiddleware.Tag<AdminAuthentication>()(
  "@shum/domain/AdminAuthentication",
  {
    failure: Schema.Union(Unauthorized, Forbidden),
    provides: CurrentUser,
    security: { bearer, cookie }
  }
) {}

/**
 * A signed-in user, the session checked by the endpoint's write itself (D13); answers as `Authentication` does.
 * Provides nothing: the request's `UncheckedSession` stays with the request (see `UncheckedSession`).
 */
export class DeferredAuthentication extends HttpApiMiddleware.Tag<DeferredAuthentication>()(
  "@shum/domain/DeferredAuthentication",
  {
    failure: Unauthorized,
    security: { bearer, cookie }
  }
) {}

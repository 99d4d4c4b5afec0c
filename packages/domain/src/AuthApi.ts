/**
 * Registration, sign-in, token refresh and sign-out (docs/api.md §4, §7; docs/decisions.md D1, D3, D4).
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import { Message } from "./Common.js"
import { Conflict, IntegrityViolation, InvalidCredentials, RateLimited, ValidationError } from "./Errors.js"
import { Authentication } from "./Security.js"
import { RefreshRequest, Token, User, UserLogin, UserRegister } from "./Users.js"
import { setsAccessCookie, locatesCreated } from "./OpenApiHeaders.js"

export class AuthApi extends HttpApiGroup.make("auth")
  .add(
    HttpApiEndpoint.post("register", "/auth/register")
      .setPayload(UserRegister)
      .addSuccess(User, { status: 201 })
      .addError(Conflict)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "register")
      .annotate(OpenApi.Transform, locatesCreated("/users/{user_id}"))
      .annotate(OpenApi.Summary, "Register")
      .annotate(
        OpenApi.Description,
        "Creates a user with role `user` and answers 201 with it and `Location: /users/{id}` (D15; after `ROOT_PATH` " +
          "when the service has one). It does not sign in (no tokens, no cookie).\n\n" +
          "Order: body validation (422, also for a missing or `null` body, and for a password over 72 bytes in " +
          "UTF-8) → auth rate limit (429; a 422 does not count) → e-mail already registered, in any letter case " +
          "(D12) → 409 `Пользователь с email '<e-mail>' уже существует` (a concurrent duplicate → 409 integrity " +
          "violation).\n\n" +
          "The e-mail is normalised (docs/api.md §4.2: display form reduced, domain lower-cased) and stored that way, the " +
          "local part as typed; the password is stored as a bcrypt hash."
      )
  )
  .add(
    HttpApiEndpoint.post("login", "/auth/login")
      .setPayload(UserLogin)
      .addSuccess(Token)
      .addError(InvalidCredentials)
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "login")
      .annotate(OpenApi.Transform, setsAccessCookie)
      .annotate(OpenApi.Summary, "Sign in")
      .annotate(
        OpenApi.Description,
        "Checks the e-mail and password and returns an access token and a refresh token; the access token is " +
          "also set as the `access_token` cookie (HttpOnly, SameSite=lax, Path=/).\n\n" +
          "Order: body validation (422: a 7-character password, or one over 72 bytes in UTF-8, is a 422, not a " +
          "401) → auth rate limit (429) → unknown e-mail → 401 `Пользователь с таким email не найден` → no or " +
          "wrong password → 401 `Неверный пароль`. These 401s carry no `WWW-Authenticate`.\n\n" +
          "The e-mail is compared without regard to letter case (D12): the account stored with exactly that " +
          "address, else the one whose address differs only in case (of legacy case twins, the oldest).\n\n" +
          "Differs from the original: the refresh token is stored hashed (D3), and a stored hash that is not " +
          "bcrypt counts as a wrong password instead of a 500."
      )
  )
  .add(
    HttpApiEndpoint.get("me", "/auth/me")
      .addSuccess(User)
      .middleware(Authentication)
      .annotate(OpenApi.Identifier, "getCurrentUser")
      .annotate(OpenApi.Summary, "Current user")
      .annotate(
        OpenApi.Description,
        "The signed-in user. 401 (with `WWW-Authenticate: Bearer`) when the token is missing, invalid, expired, " +
          "revoked by a logout (D3) or by a later password or role change (D13), or its user no longer exists."
      )
  )
  .add(
    HttpApiEndpoint.post("refresh", "/auth/refresh")
      .setPayload(RefreshRequest)
      .addSuccess(Token)
      .addError(InvalidCredentials)
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "refreshTokens")
      .annotate(OpenApi.Transform, setsAccessCookie)
      .annotate(OpenApi.Summary, "Refresh tokens")
      .annotate(
        OpenApi.Description,
        "Rotates a refresh token: the one presented is revoked and a new access token and refresh token are " +
          "returned (cookie set as on sign-in).\n\n" +
          "Order: body validation (422) → auth rate limit (429) → unknown, revoked or expired token, or one " +
          "issued before a password or role change (D13) → 401 " +
          "`Невалидный или истекший refresh токен` → its user deleted → 401 `Пользователь не найден`.\n\n" +
          "Differs from the original (D3): presenting an already rotated token is treated as theft and revokes " +
          "every refresh token of that user (still 401)."
      )
  )
  .add(
    HttpApiEndpoint.post("logout", "/auth/logout")
      .addSuccess(Message)
      .middleware(Authentication)
      .annotate(OpenApi.Identifier, "logout")
      .annotate(OpenApi.Transform, setsAccessCookie)
      .annotate(OpenApi.Summary, "Sign out")
      .annotate(
        OpenApi.Description,
        "Revokes all of the caller's refresh tokens and deletes the `access_token` cookie (`Max-Age=0`).\n\n" +
          "Differs from the original (D3): the presented access token is revoked too, so it stops working at " +
          "once (the original kept it valid until it expired).\n\n" +
          "Durable (D13): 200 only once the revocation is recorded in PostgreSQL (not in Redis: a Redis restart, " +
          "flush or outage brings no logged-out token back). When the database cannot record it: 503 " +
          "`Сервис базы данных временно недоступен. Попробуйте позже.` with `Retry-After`; nothing was revoked " +
          "and the cookie is kept, so retry."
      )
  )
  // Register, login and refresh have their own per-path limit; every API route has the general one (D4).
  .addError(RateLimited)
  .annotate(OpenApi.Title, "Аутентификация")
  .annotate(
    OpenApi.Description,
    "Registration, sign-in, token refresh and sign-out. The access token (JWT) is accepted from the " +
      "`access_token` cookie or an `Authorization: Bearer` header."
  ) {}

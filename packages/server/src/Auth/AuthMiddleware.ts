/**
 * The security middlewares of the domain (`Authentication`, `AdminAuthentication`, `DeferredAuthentication`),
 * docs/api.md §4.1 and D1/D3/D13. The last verifies the token only: the session is checked by the endpoint's
 * write statement (`DeferredSession.ts`).
 *
 * Credentials are resolved from the request itself, not from the scheme HttpApi decoded, because the
 * contract is stricter than "first scheme that succeeds": a non-empty `access_token` cookie is used even
 * when invalid (the header is then ignored), and the header must start with exactly `Bearer `.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Forbidden, Unauthorized } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { spanned } from "@shum/infra/Telemetry"
import {
  AdminAuthentication,
  Authentication,
  type AuthenticatedUser,
  DeferredAuthentication
} from "@shum/domain/Security"
import { Clock, Context, DefaultServices, Effect, FiberRef, Layer, Option } from "effect"
import { noteUser } from "../Http/AccessLog.js"
import { UsersRepo } from "../Users/UsersRepo.js"
import { deferSession, deferSessionIn } from "./DeferredSession.js"
import { type AccessClaims, Tokens } from "./Tokens.js"

const BEARER = "Bearer "

/** docs/api.md §4.1: the cookie if non-empty, else the text after the first `Bearer ` up to any second one. */
const presentedToken = (request: HttpServerRequest.HttpServerRequest): Option.Option<string> => {
  const cookie = request.cookies["access_token"]
  if (cookie !== undefined && cookie !== "") return Option.some(cookie)
  const header = request.headers["authorization"] ?? ""
  if (!header.startsWith(BEARER)) return Option.none()
  const token = header.slice(BEARER.length).split(BEARER)[0] ?? ""
  return token === "" ? Option.none() : Option.some(token)
}

const makeAuthenticate = Effect.gen(function* () {
  const tokens = yield* Tokens
  const users = yield* UsersRepo
  /**
   * The presented token, verified (signature, expiry, subject): its claims. Composed directly rather than with
   * `Effect.gen` (a generator and its steps on every authenticated request; bench/README.md, "The booking's own
   * path").
   */
  const verify: Effect.Effect<AccessClaims, Unauthorized, HttpServerRequest.HttpServerRequest> = Effect.flatMap(
    HttpServerRequest.HttpServerRequest,
    (request) => {
      const token = presentedToken(request)
      if (Option.isNone(token)) return Effect.fail(new Unauthorized({ detail: Messages.tokenMissing }))
      return Effect.mapError(
        tokens.verifyAccess(token.value),
        (rejected) => new Unauthorized({ detail: rejected.detail })
      )
    }
  )
  /**
   * The session of verified claims: the user exists, the token was not logged out, its version is current.
   * `session_refusal` (migration 0014) answers the same in a write's own statement (DeferredSession.ts).
   */
  const checkSession = (claims: AccessClaims) =>
    Effect.gen(function* () {
      // one round trip: the user, and whether the token was logged out (D13, in PostgreSQL, not Redis)
      const session = yield* users.findSession(claims.userId, claims.jti)
      if (Option.isNone(session)) return yield* new Unauthorized({ detail: Messages.userNotFound })
      const { revoked, user } = session.value
      // logged out, or issued before a password or role change (D13)
      if (revoked || claims.version !== user.token_version) {
        return yield* new Unauthorized({ detail: Messages.tokenInvalid })
      }
      yield* noteUser(user.id)
      return {
        id: user.id,
        email: user.email,
        role: user.role,
        jti: claims.jti,
        expiresAt: claims.expiresAt
      } satisfies AuthenticatedUser
    })
  const authenticate = Effect.flatMap(verify, checkSession).pipe(spanned("Auth.authenticate"))
  const eagerCheck = (claims: AccessClaims) => Effect.asVoid(checkSession(claims))
  /**
   * The token verified now, the session checked by the endpoint's write (D13; DeferredSession.ts), which its
   * handler takes from the request (`withRequestSession`): nothing is provided to the handler's context.
   */
  const deferredSteps = Effect.flatMap(verify, (claims) => Effect.asVoid(deferSession(claims, eagerCheck))).pipe(
    spanned("Auth.authenticate")
  )
  /**
   * `deferredSteps` in one step for the common case — no tracing (so no span to make), a token verified before and
   * still valid (`Tokens.verifiedAt`), a request whose session will be checked before its answer: the same
   * session, read from the request, the clock and the fiber directly instead of a dozen of Effect's steps on
   * every write (bench/README.md, "Issue 18 and 19: the write path"). Anything else takes `deferredSteps`.
   */
  const deferred: Effect.Effect<void, Unauthorized, HttpServerRequest.HttpServerRequest> = Effect.withFiberRuntime(
    (fiber) => {
      if (fiber.getFiberRef(FiberRef.currentTracerEnabled)) return deferredSteps
      const token = presentedToken(Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest))
      if (Option.isNone(token)) return deferredSteps
      const clock = Context.get(fiber.getFiberRef(DefaultServices.currentServices), Clock.Clock)
      const claims = tokens.verifiedAt(token.value, Math.floor(clock.unsafeCurrentTimeMillis() / 1000))
      const session = claims === undefined ? undefined : deferSessionIn(fiber, claims, eagerCheck)
      return session === undefined ? deferredSteps : Effect.void
    }
  )
  return { authenticate, deferred } as const
})

const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.map(makeAuthenticate, ({ authenticate }) =>
    Authentication.of({ cookie: () => authenticate, bearer: () => authenticate })
  )
)

const AdminAuthenticationLive = Layer.effect(
  AdminAuthentication,
  Effect.map(makeAuthenticate, ({ authenticate }) => {
    const admin = Effect.flatMap(authenticate, (user) =>
      user.role === "admin" ? Effect.succeed(user) : Effect.fail(new Forbidden({ detail: Messages.forbidden }))
    )
    return AdminAuthentication.of({ cookie: () => admin, bearer: () => admin })
  })
)

const DeferredAuthenticationLive = Layer.effect(
  DeferredAuthentication,
  Effect.map(makeAuthenticate, ({ deferred }) =>
    DeferredAuthentication.of({ cookie: () => deferred, bearer: () => deferred })
  )
)

export const SecurityLive = Layer.mergeAll(AuthenticationLive, AdminAuthenticationLive, DeferredAuthenticationLive)

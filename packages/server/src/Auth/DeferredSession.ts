/**
 * The session check inside the write's own statement (docs/decisions.md D13, "checked in the write"): for the
 * endpoints declared with `DeferredAuthentication`, the middleware verifies the token (signature, expiry,
 * subject) as for any endpoint, and the rest of the check — the user exists, the token's `jti` was not logged
 * out, its version is current — is the first thing the endpoint's write statement does (`session_refusal`,
 * migration 0014), in the same round trip. Its refusals are the middleware's 401s, word for word.
 *
 * Two guards make it impossible to act on a user without the check:
 * - the handler holds an `UncheckedSession`, opaque (taken from the request by `withRequestSession`: the
 *   middleware provides nothing to the handler's context): the user id is read only by `inStatement`, for the
 *   statement that runs the check and answers `no_user` / `token_invalid` before doing anything else;
 * - `checkedBeforeAnswer` (around every request, in `Http/ErrorMapping.ts`): a session that no statement
 *   checked (a 422 before the write, a handler that never wrote, a write that failed) is checked the eager
 *   way before anything is answered, and its refusal is the answer — as the middleware would have answered
 *   first.
 */
import { Unauthorized } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import type { DeferredAuthentication } from "@shum/domain/Security"
import { type UncheckedSession, UncheckedSessionId } from "@shum/domain/Security"
import { Cause, Effect, Exit, type Fiber, FiberRef } from "effect"
import { globalValue } from "effect/GlobalValue"
import { noteUser } from "../Http/AccessLog.js"
import { currentRequest } from "../Http/RequestContext.js"
import type { AccessClaims } from "./Tokens.js"

/** What the checking statement needs: whose session, which token, which version (`session_refusal`). */
export interface SessionArguments {
  readonly userId: number
  readonly jti: string
  readonly version: number
}

/** The one implementation of `UncheckedSession`: the verified claims, and whether the session was checked. */
class PendingSession implements UncheckedSession {
  readonly [UncheckedSessionId]: typeof UncheckedSessionId = UncheckedSessionId
  #checked = false
  readonly #claims: AccessClaims
  /** the middleware's lookup of these claims, made only if it is needed (most sessions are checked by a statement) */
  readonly #eagerCheck: (claims: AccessClaims) => Effect.Effect<void, Unauthorized>
  constructor(claims: AccessClaims, eagerCheck: (claims: AccessClaims) => Effect.Effect<void, Unauthorized>) {
    this.#claims = claims
    this.#eagerCheck = eagerCheck
  }
  get checked() {
    return this.#checked
  }
  get arguments(): SessionArguments {
    return { userId: this.#claims.userId, jti: this.#claims.jti, version: this.#claims.version }
  }
  /** The statement found the session standing: the request is this user's (the access log's `user_id`, as the middleware notes it). */
  readonly stands = Effect.suspend(() => {
    this.#checked = true
    return noteUser(this.#claims.userId)
  })
  /** The statement refused the session: its 401, the answer (nothing left to check). */
  refused(detail: string): Effect.Effect<never, Unauthorized> {
    this.#checked = true
    return Effect.fail(new Unauthorized({ detail }))
  }
  /** The middleware's check, run now (it notes the user itself). */
  readonly checkNow = Effect.suspend(() => {
    if (this.#checked) return Effect.void
    return Effect.tap(this.#eagerCheck(this.#claims), () => {
      this.#checked = true
    })
  })
}

const sessionOf = (session: UncheckedSession): PendingSession => {
  if (session instanceof PendingSession) return session
  throw new TypeError("an UncheckedSession not made by DeferredAuthentication")
}

/**
 * A session of verified claims whose check is `eagerCheck` (the middleware's lookup). Only `deferSession` and
 * tests make one; nothing but `inStatement` (or the eager check) reads it.
 */
export const newSession = (claims: AccessClaims, eagerCheck: Effect.Effect<void, Unauthorized>): UncheckedSession =>
  new PendingSession(claims, () => eagerCheck)

/** The request's session to check before answering; set by `checkedBeforeAnswer`, filled by the middleware. */
interface Holder {
  session: PendingSession | undefined
}

/** The holder of a request run outside the request pipeline (no `currentRequest`: tests, tools). */
const currentHolder = globalValue("server/Auth/DeferredSession/currentHolder", () =>
  FiberRef.unsafeMake<Holder | undefined>(undefined)
)

/**
 * The session `deferSession` checked at once, where no holder was around the request (tests, tools): what
 * `withRequestSession` answers there. Never read while a holder is around.
 */
const checkedAtOnce = globalValue("server/Auth/DeferredSession/checkedAtOnce", () =>
  FiberRef.unsafeMake<PendingSession | undefined>(undefined)
)

/** The request's holder: in its `currentRequest` when the pipeline runs it, else in `currentHolder`. */
const holderOf = (fiber: { getFiberRef<X>(ref: FiberRef.FiberRef<X>): X }): Holder | undefined =>
  (fiber.getFiberRef(currentRequest)?.sessionHolder as Holder | undefined) ?? fiber.getFiberRef(currentHolder)

/**
 * The middleware's part: the session of a verified token, registered to be checked before the answer (and read
 * by the handler, `withRequestSession`). Where nothing would check it before the answer (no
 * `checkedBeforeAnswer` around the request), it is checked now, and kept for the handler in a fiber-local.
 */
export const deferSession = (
  claims: AccessClaims,
  eagerCheck: (claims: AccessClaims) => Effect.Effect<void, Unauthorized>
): Effect.Effect<UncheckedSession, Unauthorized> =>
  Effect.withFiberRuntime((fiber) => {
    const session = deferSessionIn(fiber, claims, eagerCheck)
    if (session !== undefined) return Effect.succeed(session)
    const unchecked = new PendingSession(claims, eagerCheck)
    return Effect.zipRight(unchecked.checkNow, Effect.as(FiberRef.set(checkedAtOnce, unchecked), unchecked))
  })

/**
 * `deferSession` without an Effect, in the request's `fiber` (the middleware's one-step path, `AuthMiddleware.ts`):
 * the session registered to be checked before the answer; `undefined` where nothing would check it
 * (no `checkedBeforeAnswer` around the request) — then `deferSession`, which checks it now.
 */
export const deferSessionIn = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  claims: AccessClaims,
  eagerCheck: (claims: AccessClaims) => Effect.Effect<void, Unauthorized>
): UncheckedSession | undefined => {
  const holder = holderOf(fiber)
  if (holder === undefined) return undefined
  const session = new PendingSession(claims, eagerCheck)
  holder.session = session
  return session
}

/**
 * The handler's part: `f` of the session the request's `DeferredAuthentication` middleware registered (the
 * request's holder's; where there was none, the one it checked at once). The middleware provides nothing to the
 * handler's context — a provided service is a copy of the request's context and two fiber-local updates on every
 * write (issue 18, bench/README.md "Issue 18 and 19, fourth pass") — so the session is read here, in one step.
 * The requirement names the middleware: only a group whose endpoints declare `DeferredAuthentication` can use it
 * (`Http/ClosedGroup.ts`); a request its middleware did not run for has no session: a defect (500).
 */
export const withRequestSession = <A, E, R>(
  f: (session: UncheckedSession) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R | DeferredAuthentication> =>
  Effect.withFiberRuntime((fiber) => {
    const holder = holderOf(fiber)
    const session = holder === undefined ? fiber.getFiberRef(checkedAtOnce) : holder.session
    return session === undefined
      ? Effect.dieMessage("no session: the endpoint does not declare DeferredAuthentication")
      : f(session)
  })

/**
 * Runs `statement`, which must check the session first (`session_refusal`, migration 0014) and then answers
 * `no_user` or `token_invalid` as its outcome, having done nothing else. Those are the middleware's 401s
 * (`Пользователь не найден`, `Токен невалиден или истек`); any other outcome means the session stands.
 * A statement that fails leaves the session unchecked, for `checkedBeforeAnswer`.
 */
export const inStatement = <Row extends { readonly outcome: string }, E, R>(
  session: UncheckedSession,
  statement: (caller: SessionArguments) => Effect.Effect<ReadonlyArray<Row>, E, R>
): Effect.Effect<ReadonlyArray<Row>, E | Unauthorized, R> => {
  const pending = sessionOf(session)
  return Effect.flatMap(statement(pending.arguments), (rows) => {
    switch (rows[0]?.outcome) {
      case "no_user":
        return pending.refused(Messages.userNotFound)
      case "token_invalid":
        return pending.refused(Messages.tokenInvalid)
      default:
        return Effect.as(pending.stands, rows)
    }
  })
}

/**
 * Around a request: whatever it answers, a session a `DeferredAuthentication` middleware registered and no
 * statement checked is checked first (one round trip, as the middleware's); refused, the 401 is the answer.
 * An interrupted request answers nothing, so nothing is checked.
 */
export const checkedBeforeAnswer = <A, E, R>(app: Effect.Effect<A, E, R>): Effect.Effect<A, E | Unauthorized, R> =>
  Effect.withFiberRuntime((fiber) => {
    const holder: Holder = { session: undefined }
    // in the request's state when the pipeline runs it (no fiber-local update); else set for the rest of the
    // request's own fiber, not set and restored around it: cheaper (bench/README.md)
    const request = fiber.getFiberRef(currentRequest)
    if (request !== undefined) request.sessionHolder = holder
    const run = request !== undefined ? app : Effect.zipRight(FiberRef.set(currentHolder, holder), app)
    return Effect.flatMap(Effect.exit(run), (exit) => {
      const session = holder.session
      if (session === undefined || session.checked) return exit
      if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) return exit
      return Effect.zipRight(session.checkNow, exit)
    })
  })

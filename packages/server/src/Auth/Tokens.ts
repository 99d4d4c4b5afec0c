/**
 * Access tokens: JWTs signed with `JWT_SECRET_KEY` and `JWT_ALGORITHM` (only that algorithm is accepted).
 * Claims `sub` (the user id as a string), `email`, `iat`, `exp` (epoch seconds), a `jti` (D3) and `ver`, the
 * user's token version when it was issued (docs/decisions.md D13: a password or role change bumps it, and
 * the token is refused from then on). A token without `ver` (issued before it existed) is version 0.
 * Time comes from Effect's `Clock`, so tests move it with `TestClock`.
 * Refresh tokens: 32 random bytes, URL-safe base64 without padding; only their SHA-256 is stored (D3).
 */
import { INT32 } from "@shum/domain/Common"
import { Messages } from "@shum/domain/Messages"
import { AppConfig } from "@shum/infra/Config"
import { Clock, Duration, Effect, Redacted, Schema } from "effect"
import { errors, type JWTPayload, jwtVerify, SignJWT } from "jose"
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual, webcrypto } from "node:crypto"

/** Why a presented access token is refused; `detail` is the E-02..E-04 literal. */
export class TokenRejected extends Schema.TaggedError<TokenRejected>()("TokenRejected", { detail: Schema.String }) {}

export interface AccessClaims {
  readonly userId: number
  readonly jti: string
  /** epoch seconds */
  readonly expiresAt: number
  /** the user's token version at issue (D13) */
  readonly version: number
}

export interface IssuedAccessToken {
  readonly token: string
  readonly jti: string
  readonly expiresAt: number
}

/**
 * At most this many verified tokens remembered (`verifyAccess`): a few MB at most; only tokens signed with our
 * key get in, so nobody fills it without valid tokens; the oldest goes first.
 */
const VERIFIED_MAX = 10_000

const SUBJECT = /^-?\d+$/
const JTI = /^[\x21-\x7e]{1,128}$/
const BASE64URL = /^[A-Za-z0-9_-]+$/

const parseJson = (part: string): unknown => {
  try {
    return JSON.parse(Buffer.from(part, "base64url").toString("utf8"))
  } catch {
    return undefined
  }
}

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

export const hashRefreshToken = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex")
export const newRefreshToken = (): string => randomBytes(32).toString("base64url")

export class Tokens extends Effect.Service<Tokens>()("server/Tokens", {
  effect: Effect.gen(function* () {
    const { jwt } = yield* AppConfig
    // imported once: jose given raw bytes imports the key on every call, which was most of a verify's cost
    const key = yield* Effect.promise(() =>
      webcrypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(Redacted.value(jwt.secret)),
        { name: "HMAC", hash: `SHA-${jwt.algorithm.slice(2)}` },
        false,
        ["sign", "verify"]
      )
    )
    const secret = Buffer.from(Redacted.value(jwt.secret), "utf8")
    const hmac = `sha${jwt.algorithm.slice(2)}`

    /**
     * The common case decided with node's own HMAC, synchronous and a few µs (jose verifies through
     * WebCrypto's job queue, tens of µs on every authenticated request): a header of exactly `alg` (ours)
     * and `typ`, a payload object with a numeric `exp` still ahead and no `nbf`. A wrong signature is
     * refused here; anything else unusual is left to jose (`undefined`), so no token passes that jose
     * would refuse.
     */
    const quickVerify = (token: string, now: number): JWTPayload | "invalid" | undefined => {
      const [h = "", p = "", s = ""] = token.split(".")
      if (!BASE64URL.test(h) || !BASE64URL.test(p) || !BASE64URL.test(s)) return undefined
      const header = parseJson(h)
      if (!isPlainObject(header) || header["alg"] !== jwt.algorithm) return undefined
      if (Object.keys(header).some((name) => name !== "alg" && name !== "typ")) return undefined
      const expected = createHmac(hmac, secret).update(`${h}.${p}`).digest()
      const signature = Buffer.from(s, "base64url")
      if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return "invalid"
      const payload = parseJson(p)
      if (!isPlainObject(payload) || typeof payload["exp"] !== "number" || payload["exp"] <= now) return undefined
      if ("nbf" in payload || (payload["iat"] !== undefined && typeof payload["iat"] !== "number")) return undefined
      return payload as JWTPayload
    }

    const accessTtlSeconds = Math.floor(Duration.toSeconds(jwt.accessTokenTtl))
    const nowSeconds = Effect.map(Clock.currentTimeMillis, (ms) => Math.floor(ms / 1000))

    const issueAccess = (user: { readonly id: number; readonly email: string; readonly token_version?: number }) =>
      Effect.gen(function* () {
        const iat = yield* nowSeconds
        const jti = randomUUID()
        const expiresAt = iat + accessTtlSeconds
        const token = yield* Effect.promise(() =>
          new SignJWT({ email: user.email, ver: user.token_version ?? 0 })
            .setProtectedHeader({ alg: jwt.algorithm, typ: "JWT" })
            .setSubject(String(user.id))
            .setIssuedAt(iat)
            .setExpirationTime(expiresAt)
            .setJti(jti)
            .sign(key)
        )
        return { token, jti, expiresAt } satisfies IssuedAccessToken
      })

    /**
     * Tokens the quick path accepted, by their text: the claims and when they hold (`iat` … `exp`). Only the
     * verification is remembered — signature, expiry, subject, `jti`, version: facts of the token's text that
     * never change — never the session's state (revocation, version, the user: D13, checked on every request
     * by the lookup or the write's statement). A hit is judged against the clock again, so a token is refused
     * from the second its `exp` passes, as without the cache.
     */
    const verified = new Map<string, { readonly claims: AccessClaims; readonly issuedAt: number }>()
    const remember = (token: string, claims: AccessClaims, issuedAt: number) => {
      if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!)
      verified.set(token, { claims, issuedAt })
    }

    /**
     * The claims of a token verified before and still within its `iat` … `exp` at `now` (epoch seconds), read
     * without an Effect for the deferred middleware's one-step path (`AuthMiddleware.ts`); `undefined`: not
     * remembered, or no longer valid — `verifyAccess` decides it (and forgets a token past its time).
     */
    const verifiedAt = (token: string, now: number): AccessClaims | undefined => {
      const hit = verified.get(token)
      return hit !== undefined && hit.issuedAt <= now && now < hit.claims.expiresAt ? hit.claims : undefined
    }

    const verifyAccess = (token: string): Effect.Effect<AccessClaims, TokenRejected> =>
      Effect.flatMap(Clock.currentTimeMillis, (ms) => {
        const now = Math.floor(ms / 1000)
        const claims = verifiedAt(token, now)
        if (claims !== undefined) return Effect.succeed(claims)
        verified.delete(token) // one past its time is forgotten
        return verifyNow(token, now)
      })

    const verifyNow = (token: string, now: number) =>
      Effect.gen(function* () {
        // built only when refused: an error captures a stack trace, too costly for every request
        const invalid = () => new TokenRejected({ detail: Messages.tokenInvalid })
        if (token.split(".").length !== 3) return yield* invalid()
        const quick = quickVerify(token, now)
        if (quick === "invalid") return yield* invalid()
        const payload =
          quick ??
          (yield* Effect.tryPromise({
            try: () => jwtVerify(token, key, { algorithms: [jwt.algorithm], currentDate: new Date(now * 1000) }),
            catch: (error) => (error instanceof errors.JOSEError ? invalid() : invalid())
          })).payload
        if (typeof payload.iat !== "number" || payload.iat > now || typeof payload.exp !== "number")
          return yield* invalid()
        if (payload.sub === undefined || payload.sub === "") {
          return yield* new TokenRejected({ detail: Messages.tokenWithoutSubject })
        }
        // an id the users table cannot hold names nobody: refused here, never sent to PostgreSQL (docs/decisions.md D11)
        const userId = Number(payload.sub)
        if (!SUBJECT.test(payload.sub) || userId < INT32.minimum || userId > INT32.maximum) {
          return yield* new TokenRejected({ detail: Messages.tokenBadSubject })
        }
        // we issue UUIDs; tokens from before D3 have none. Anything else (NUL, control characters, a novel's
        // length) was not made by this service's code, and is not looked up
        if (payload.jti !== undefined && (typeof payload.jti !== "string" || !JTI.test(payload.jti))) {
          return yield* invalid()
        }
        const version = "ver" in payload ? payload["ver"] : 0
        if (typeof version !== "number" || !Number.isSafeInteger(version)) return yield* invalid()
        const claims: AccessClaims = { userId, jti: payload.jti ?? "", expiresAt: payload.exp, version }
        // what jose judged (other header parameters, `nbf`) is judged again each time
        if (quick !== undefined) remember(token, claims, payload.iat)
        return claims
      })

    return { issueAccess, verifyAccess, verifiedAt, accessTtlSeconds } as const
  })
}) {}

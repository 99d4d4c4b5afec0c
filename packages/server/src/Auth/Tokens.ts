/**
 * Access tokens: JWTs signed with `JWT_SECRET_KEY` and `JWT_ALGORITHM` (only that algorithm is accepted).
 * Claims `sub` (the user id as a string), `email`, `iat`, `exp` (epoch seconds) and a `jti` (D3).
 * Time comes from Effect's `Clock`, so tests move it with `TestClock`.
 * Refresh tokens: 32 random bytes, URL-safe base64 without padding; only their SHA-256 is stored (D3).
 */
import { Messages } from "@shum/domain/Messages"
import { AppConfig } from "@shum/infra/Config"
import { Clock, Duration, Effect, Redacted, Schema } from "effect"
import { errors, jwtVerify, SignJWT } from "jose"
import { createHash, randomBytes, randomUUID } from "node:crypto"

/** Why a presented access token is refused; `detail` is the E-02..E-04 literal. */
export class TokenRejected extends Schema.TaggedError<TokenRejected>()("TokenRejected", { detail: Schema.String }) {}

export interface AccessClaims {
  readonly userId: number
  readonly jti: string
  /** epoch seconds */
  readonly expiresAt: number
}

export interface IssuedAccessToken {
  readonly token: string
  readonly jti: string
  readonly expiresAt: number
}

const SUBJECT = /^-?\d+$/

export const hashRefreshToken = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex")
export const newRefreshToken = (): string => randomBytes(32).toString("base64url")

export class Tokens extends Effect.Service<Tokens>()("server/Tokens", {
  effect: Effect.gen(function* () {
    const { jwt } = yield* AppConfig
    const key = new TextEncoder().encode(Redacted.value(jwt.secret))
    const accessTtlSeconds = Math.floor(Duration.toSeconds(jwt.accessTokenTtl))
    const nowSeconds = Effect.map(Clock.currentTimeMillis, (ms) => Math.floor(ms / 1000))

    const issueAccess = (user: { readonly id: number; readonly email: string }) =>
      Effect.gen(function* () {
        const iat = yield* nowSeconds
        const jti = randomUUID()
        const expiresAt = iat + accessTtlSeconds
        const token = yield* Effect.promise(() =>
          new SignJWT({ email: user.email })
            .setProtectedHeader({ alg: jwt.algorithm, typ: "JWT" })
            .setSubject(String(user.id))
            .setIssuedAt(iat)
            .setExpirationTime(expiresAt)
            .setJti(jti)
            .sign(key)
        )
        return { token, jti, expiresAt } satisfies IssuedAccessToken
      })

    const verifyAccess = (token: string) =>
      Effect.gen(function* () {
        const now = yield* nowSeconds
        const invalid = new TokenRejected({ detail: Messages.tokenInvalid })
        if (token.split(".").length !== 3) return yield* invalid
        const { payload } = yield* Effect.tryPromise({
          try: () => jwtVerify(token, key, { algorithms: [jwt.algorithm], currentDate: new Date(now * 1000) }),
          catch: (error) => (error instanceof errors.JOSEError ? invalid : invalid)
        })
        if (typeof payload.iat !== "number" || payload.iat > now || typeof payload.exp !== "number")
          return yield* invalid
        if (payload.sub === undefined || payload.sub === "") {
          return yield* new TokenRejected({ detail: Messages.tokenWithoutSubject })
        }
        if (!SUBJECT.test(payload.sub) || !Number.isSafeInteger(Number(payload.sub))) {
          return yield* new TokenRejected({ detail: Messages.tokenBadSubject })
        }
        return {
          userId: Number(payload.sub),
          jti: typeof payload.jti === "string" ? payload.jti : "",
          expiresAt: payload.exp
        } satisfies AccessClaims
      })

    return { issueAccess, verifyAccess, accessTtlSeconds } as const
  })
}) {}

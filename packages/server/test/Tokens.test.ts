import { assert, describe, it } from "@effect/vitest"
import { AppConfig } from "@shum/infra/Config"
import { Clock, Effect, Layer, TestClock } from "effect"
import { SignJWT } from "jose"
import { hashRefreshToken, newRefreshToken, Tokens } from "../src/Auth/Tokens.js"
import { configProvider, TEST_SECRET } from "./support.js"

const TokensTest = Tokens.Default.pipe(
  Layer.provide(AppConfig.Default),
  Layer.provide(Layer.setConfigProvider(configProvider({})))
)

describe("Tokens (TestClock)", () => {
  it.effect("a token verifies until it expires, then is E-02", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(1_800_000_000_000)
      const tokens = yield* Tokens
      const issued = yield* tokens.issueAccess({ id: 7, email: "a@example.com" })
      const claims = yield* tokens.verifyAccess(issued.token)
      assert.deepStrictEqual(claims, { userId: 7, jti: issued.jti, expiresAt: 1_800_000_000 + 1800, version: 0 })
      yield* TestClock.adjust("29 minutes")
      assert.strictEqual((yield* tokens.verifyAccess(issued.token)).userId, 7)
      yield* TestClock.adjust("2 minutes")
      const expired = yield* Effect.flip(tokens.verifyAccess(issued.token))
      assert.strictEqual(expired.detail, "Токен невалиден или истек")
    }).pipe(Effect.provide(TokensTest))
  )

  it.effect("a remembered verification still ends at the token's exp, to the second, and never before its iat", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(1_800_000_000_000)
      const tokens = yield* Tokens
      const issued = yield* tokens.issueAccess({ id: 7, email: "a@example.com" })
      // verified many times (remembered after the first)
      for (let i = 0; i < 3; i++) assert.strictEqual((yield* tokens.verifyAccess(issued.token)).userId, 7)
      yield* TestClock.setTime((issued.expiresAt - 1) * 1000 + 999)
      assert.strictEqual((yield* tokens.verifyAccess(issued.token)).userId, 7)
      yield* TestClock.setTime(issued.expiresAt * 1000)
      const expired = yield* Effect.flip(tokens.verifyAccess(issued.token))
      assert.strictEqual(expired.detail, "Токен невалиден или истек")
      // a clock set back before the token's iat: refused as a token "from the future", remembered or not
      yield* TestClock.setTime(1_800_000_000_000)
      assert.strictEqual((yield* tokens.verifyAccess(issued.token)).userId, 7)
      yield* TestClock.setTime(1_799_999_999_000)
      const early = yield* Effect.flip(tokens.verifyAccess(issued.token))
      assert.strictEqual(early.detail, "Токен невалиден или истек")
      // a forged twin (another signature) of a remembered token is not the remembered text: refused
      yield* TestClock.setTime(1_800_000_000_000)
      const [h, p, s] = issued.token.split(".")
      // the signature's last but one character changed (the last carries unused bits): to another character, always
      const forged = `${h}.${p}.${s!.slice(0, -2)}${s!.at(-2) === "A" ? "B" : "A"}${s!.slice(-1)}`
      assert.strictEqual((yield* Effect.flip(tokens.verifyAccess(forged))).detail, "Токен невалиден или истек")
    }).pipe(Effect.provide(TokensTest))
  )

  it.effect("verifiedAt (the middleware's one-step path) answers as verifyAccess at every boundary, or defers", () =>
    Effect.gen(function* () {
      const tokens = yield* Tokens
      const invalid = "Токен невалиден или истек"
      /** `verifiedAt` at the clock's time, as AuthMiddleware.ts reads it (epoch seconds, rounded down). */
      const oneStep = (token: string) =>
        Effect.map(Clock.currentTimeMillis, (ms) => tokens.verifiedAt(token, Math.floor(ms / 1000)))
      const full = (token: string) =>
        Effect.match(tokens.verifyAccess(token), { onFailure: (e) => e.detail, onSuccess: (claims) => claims })
      yield* TestClock.setTime(1_800_000_000_000)
      const issued = yield* tokens.issueAccess({ id: 7, email: "a@example.com" })
      // never verified: not remembered, so verifyAccess decides (and accepts)
      assert.isUndefined(yield* oneStep(issued.token))
      const claims = yield* tokens.verifyAccess(issued.token)
      // verified once: the same claims, without an Effect
      assert.deepStrictEqual(yield* oneStep(issued.token), claims)
      // 1 ms before exp: valid both ways
      yield* TestClock.setTime(issued.expiresAt * 1000 - 1)
      assert.deepStrictEqual(yield* oneStep(issued.token), claims)
      assert.deepStrictEqual(yield* full(issued.token), claims)
      // exactly exp: refused by verifyAccess, and verifiedAt has nothing to answer (verifyAccess decides: E-02)
      yield* TestClock.setTime(issued.expiresAt * 1000)
      assert.isUndefined(yield* oneStep(issued.token))
      assert.strictEqual(yield* full(issued.token), invalid)
      // verified, then expired: forgotten by verifyAccess, so not answered even at a time it held
      yield* TestClock.setTime(issued.expiresAt * 1000 + 60_000)
      assert.isUndefined(yield* oneStep(issued.token))
      assert.strictEqual(yield* full(issued.token), invalid)
      yield* TestClock.setTime(issued.expiresAt * 1000 - 1)
      assert.isUndefined(yield* oneStep(issued.token))
      assert.deepStrictEqual(yield* full(issued.token), claims)
      assert.deepStrictEqual(yield* oneStep(issued.token), claims)

      // iat in the future: remembered at its iat, not answered a second before it (verifyAccess: E-02)
      yield* TestClock.setTime(1_800_000_600_000)
      const later = yield* tokens.issueAccess({ id: 8, email: "b@example.com" })
      const laterClaims = yield* tokens.verifyAccess(later.token)
      assert.deepStrictEqual(yield* oneStep(later.token), laterClaims)
      yield* TestClock.setTime(1_800_000_600_000 - 1)
      assert.isUndefined(yield* oneStep(later.token))
      assert.strictEqual(yield* full(later.token), invalid)
      // and one never verified, presented before its iat: neither path accepts it
      yield* TestClock.setTime(1_800_001_200_000)
      const future = yield* tokens.issueAccess({ id: 9, email: "c@example.com" })
      yield* TestClock.setTime(1_800_001_199_000)
      assert.isUndefined(yield* oneStep(future.token))
      assert.strictEqual(yield* full(future.token), invalid)
      assert.isUndefined(yield* oneStep(future.token))

      // what jose judged (here a `kid` header) is never remembered: verifyAccess accepts it, verifiedAt defers
      const now = 1_800_001_199
      const judged = yield* Effect.promise(() =>
        new SignJWT({})
          .setProtectedHeader({ alg: "HS256", kid: "k1" })
          .setSubject("7")
          .setIssuedAt(now)
          .setExpirationTime(now + 60)
          .sign(new TextEncoder().encode(TEST_SECRET))
      )
      assert.strictEqual((yield* tokens.verifyAccess(judged)).userId, 7)
      assert.isUndefined(yield* oneStep(judged))
    }).pipe(Effect.provide(TokensTest))
  )

  it.effect("a token issued 'in the future' (iat after now) is E-02", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(1_800_000_600_000)
      const tokens = yield* Tokens
      const issued = yield* tokens.issueAccess({ id: 7, email: "a@example.com" })
      yield* TestClock.setTime(1_800_000_000_000)
      const early = yield* Effect.flip(tokens.verifyAccess(issued.token))
      assert.strictEqual(early.detail, "Токен невалиден или истек")
    }).pipe(Effect.provide(TokensTest))
  )

  it.effect("node's HMAC and jose agree: unusual tokens go to jose, forged ones are refused", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(1_800_000_000_000)
      const now = 1_800_000_000
      const tokens = yield* Tokens
      const key = new TextEncoder().encode(TEST_SECRET)
      const sign = (header: Record<string, unknown>, claims: Record<string, unknown>, secret = key) =>
        Effect.promise(() => new SignJWT(claims).setProtectedHeader({ alg: "HS256", ...header }).sign(secret))
      const claims = { sub: "7", iat: now, exp: now + 60 }
      const accepted = (token: string) => Effect.map(tokens.verifyAccess(token), (c) => c.userId)
      const refused = (token: string) => Effect.map(Effect.flip(tokens.verifyAccess(token)), (e) => e.detail)
      // the quick path: exactly alg (+ typ)
      assert.strictEqual(yield* accepted(yield* sign({ typ: "JWT" }, claims)), 7)
      assert.strictEqual(yield* accepted(yield* sign({}, claims)), 7)
      // other header parameters and nbf are jose's to judge
      assert.strictEqual(yield* accepted(yield* sign({ kid: "k1" }, claims)), 7)
      assert.strictEqual(yield* accepted(yield* sign({}, { ...claims, nbf: now - 1 })), 7)
      const invalid = "Токен невалиден или истек"
      assert.strictEqual(yield* refused(yield* sign({}, { ...claims, nbf: now + 60 })), invalid)
      assert.strictEqual(yield* refused(yield* sign({}, { ...claims, exp: now })), invalid)
      assert.strictEqual(yield* refused(yield* sign({}, claims, new TextEncoder().encode("another-key"))), invalid)
      const good = yield* sign({}, claims)
      const [h, p, s] = good.split(".")
      const flipped = `${s!.slice(0, -2)}${s!.endsWith("A") ? "B" : "A"}${s!.slice(-1)}`
      assert.strictEqual(yield* refused(`${h}.${p}.${flipped}`), invalid)
      const otherPayload = Buffer.from(JSON.stringify({ ...claims, sub: "8" })).toString("base64url")
      assert.strictEqual(yield* refused(`${h}.${otherPayload}.${s}`), invalid)
      const hs512 = Buffer.from(JSON.stringify({ alg: "HS512" })).toString("base64url")
      assert.strictEqual(yield* refused(`${hs512}.${p}.${s}`), invalid)
    }).pipe(Effect.provide(TokensTest))
  )

  it.effect("the token carries the user's token version (`ver`, D13); none is 0, a non-integer is E-02", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(1_800_000_000_000)
      const now = 1_800_000_000
      const tokens = yield* Tokens
      const issued = yield* tokens.issueAccess({ id: 7, email: "a@example.com", token_version: 3 })
      assert.strictEqual((yield* tokens.verifyAccess(issued.token)).version, 3)
      const sign = (claims: Record<string, unknown>) =>
        Effect.promise(() =>
          new SignJWT({ sub: "7", iat: now, exp: now + 60, ...claims })
            .setProtectedHeader({ alg: "HS256" })
            .sign(new TextEncoder().encode(TEST_SECRET))
        )
      assert.strictEqual((yield* tokens.verifyAccess(yield* sign({}))).version, 0)
      for (const ver of ["1", 1.5, null]) {
        const refused = yield* Effect.flip(tokens.verifyAccess(yield* sign({ ver })))
        assert.strictEqual(refused.detail, "Токен невалиден или истек", String(ver))
      }
    }).pipe(Effect.provide(TokensTest))
  )

  it.effect("a subject beyond int32 is E-04 and an odd jti E-02, before any lookup (signed with our key)", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(1_800_000_000_000)
      const now = 1_800_000_000
      const tokens = yield* Tokens
      const sign = (claims: Record<string, unknown>) =>
        Effect.promise(() =>
          new SignJWT({ iat: now, exp: now + 60, ...claims })
            .setProtectedHeader({ alg: "HS256" })
            .sign(new TextEncoder().encode(TEST_SECRET))
        )
      for (const sub of ["2147483648", "-2147483649", "4294967296", "9007199254740991", "99999999999999999999"]) {
        const refused = yield* Effect.flip(tokens.verifyAccess(yield* sign({ sub, jti: "a" })))
        assert.strictEqual(refused.detail, "Невалидный идентификатор пользователя в токене", sub)
      }
      assert.strictEqual((yield* tokens.verifyAccess(yield* sign({ sub: "2147483647", jti: "a" }))).userId, 2147483647)
      for (const jti of ["\u0000", "a\u0000b", "é", "x".repeat(129), "", " ", 5]) {
        const refused = yield* Effect.flip(tokens.verifyAccess(yield* sign({ sub: "7", jti })))
        assert.strictEqual(refused.detail, "Токен невалиден или истек", JSON.stringify(jti))
      }
      // before D3 tokens had no jti at all: still accepted (nothing to revoke by id)
      assert.strictEqual((yield* tokens.verifyAccess(yield* sign({ sub: "7" }))).jti, "")
    }).pipe(Effect.provide(TokensTest))
  )

  it.effect("every token has its own jti, even within one second", () =>
    Effect.gen(function* () {
      const tokens = yield* Tokens
      const [a, b] = yield* Effect.all([
        tokens.issueAccess({ id: 1, email: "a@example.com" }),
        tokens.issueAccess({ id: 1, email: "a@example.com" })
      ])
      assert.notStrictEqual(a!.jti, b!.jti)
      assert.notStrictEqual(a!.token, b!.token)
    }).pipe(Effect.provide(TokensTest))
  )

  it("refresh tokens are 43 URL-safe characters; stored as lower-case hex SHA-256", () => {
    const token = newRefreshToken()
    assert.match(token, /^[A-Za-z0-9_-]{43}$/)
    assert.strictEqual(hashRefreshToken("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
  })
})

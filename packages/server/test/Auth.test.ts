import { HttpClient, HttpClientRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { InvalidCredentials, Unauthorized } from "@shum/domain/Errors"
import { Effect } from "effect"
import { SignJWT } from "jose"
import { createHash } from "node:crypto"
import { client, clientWithToken, signIn, TEST_SECRET, TestServer, uniqueEmail, detailOf } from "./support.js"

const key = new TextEncoder().encode(TEST_SECRET)
const nowSeconds = () => Math.floor(Date.now() / 1000)
const sign = (claims: Record<string, unknown>, options: { alg?: string; key?: Uint8Array } = {}) =>
  Effect.promise(() => new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? "HS256" }).sign(options.key ?? key))

const meWith = (headers: Record<string, string>) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const response = yield* http.execute(HttpClientRequest.get("/auth/me").pipe(HttpClientRequest.setHeaders(headers)))
    const body = (yield* response.json) as { detail?: unknown; id?: number }
    return { status: response.status, body, challenge: response.headers["www-authenticate"] }
  })

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("auth", (it) => {
  it.effect("register → 201 User (role user, normalised e-mail), no tokens; a second time → 409 E-30", () =>
    Effect.gen(function* () {
      const api = yield* client
      const local = uniqueEmail("reg").split("@")[0]!
      const [user, response] = yield* api.auth.register({
        payload: { email: ` Иван <${local}@Example.COM> `, password: "password123", first_name: "Иван" },
        withResponse: true
      })
      assert.strictEqual(response.status, 201)
      assert.strictEqual(user.email, `${local}@example.com`)
      assert.strictEqual(user.role, "user")
      assert.isUndefined(response.headers["set-cookie"])
      const again = yield* Effect.flip(
        api.auth.register({ payload: { email: `${local}@example.com`, password: "password123" } })
      )
      assert.strictEqual(detailOf(again), `Пользователь с email '${local}@example.com' уже существует`)
    })
  )

  it.effect("login: unknown e-mail E-06, wrong password E-07 (no WWW-Authenticate), success sets the cookie", () =>
    Effect.gen(function* () {
      const api = yield* client
      const email = uniqueEmail("login")
      yield* api.auth.register({ payload: { email, password: "password123" } })
      const unknown = yield* Effect.flip(
        api.auth.login({ payload: { email: uniqueEmail("nobody"), password: "password123" } })
      )
      assert.deepStrictEqual(unknown, new InvalidCredentials({ detail: "Пользователь с таким email не найден" }))
      const wrong = yield* Effect.flip(api.auth.login({ payload: { email, password: "password124" } }))
      assert.deepStrictEqual(wrong, new InvalidCredentials({ detail: "Неверный пароль" }))
      const [token, response] = yield* api.auth.login({
        payload: { email, password: "password123" },
        withResponse: true
      })
      assert.strictEqual(token.token_type, "bearer")
      assert.match(token.refresh_token, /^[A-Za-z0-9_-]{43}$/)
      const cookie = String(response.headers["set-cookie"])
      assert.include(cookie, `access_token=${token.access_token}`)
      assert.include(cookie, "HttpOnly")
      assert.include(cookie, "Max-Age=1800")
      assert.include(cookie, "Path=/")
      assert.match(cookie, /SameSite=lax/i)
      assert.notInclude(cookie, "Secure")
    })
  )

  it.effect("the access token carries sub, email, iat, exp (30 min) and a jti; /auth/me answers the user", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const [, payload] = user.token.split(".")
      const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as Record<string, unknown>
      assert.strictEqual(claims["sub"], String(user.id))
      assert.strictEqual(claims["email"], user.email)
      assert.strictEqual((claims["exp"] as number) - (claims["iat"] as number), 1800)
      assert.isString(claims["jti"])
      const me = yield* (yield* clientWithToken(user.token)).auth.me()
      assert.strictEqual(me.id, user.id)
    })
  )

  it.effect("token checks: E-01 none, E-02 malformed/expired/alg none/wrong key/future iat, E-03, E-04, E-05", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const now = nowSeconds()
      const cases: Array<[string, Record<string, string>, string]> = [
        ["no header", {}, "Токен доступа не предоставлен"],
        ["Basic", { authorization: `Basic ${user.token}` }, "Токен доступа не предоставлен"],
        ["bare token", { authorization: user.token }, "Токен доступа не предоставлен"],
        ["lower-case bearer", { authorization: `bearer ${user.token}` }, "Токен доступа не предоставлен"],
        ["malformed", { authorization: "Bearer abc.def" }, "Токен невалиден или истек"],
        [
          "expired",
          { authorization: `Bearer ${yield* sign({ sub: String(user.id), iat: now - 7200, exp: now - 3600 })}` },
          "Токен невалиден или истек"
        ],
        [
          "future iat",
          { authorization: `Bearer ${yield* sign({ sub: String(user.id), iat: now + 600, exp: now + 3600 })}` },
          "Токен невалиден или истек"
        ],
        [
          "wrong key",
          {
            authorization: `Bearer ${yield* sign({ sub: String(user.id), iat: now, exp: now + 60 }, { key: new TextEncoder().encode("another-secret-another-secret-1234") })}`
          },
          "Токен невалиден или истек"
        ],
        [
          "HS512 (not configured)",
          {
            authorization: `Bearer ${yield* sign({ sub: String(user.id), iat: now, exp: now + 60 }, { alg: "HS512" })}`
          },
          "Токен невалиден или истек"
        ],
        [
          "alg none",
          {
            authorization: `Bearer ${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ sub: String(user.id), iat: now, exp: now + 60 })).toString("base64url")}.`
          },
          "Токен невалиден или истек"
        ],
        [
          "no sub",
          { authorization: `Bearer ${yield* sign({ iat: now, exp: now + 60 })}` },
          "Токен не содержит идентификатор пользователя"
        ],
        [
          "sub not integer",
          { authorization: `Bearer ${yield* sign({ sub: "abc", iat: now, exp: now + 60 })}` },
          "Невалидный идентификатор пользователя в токене"
        ],
        [
          "deleted user",
          { authorization: `Bearer ${yield* sign({ sub: "999999999", iat: now, exp: now + 60 })}` },
          "Пользователь не найден"
        ]
      ]
      for (const [name, headers, detail] of cases) {
        const result = yield* meWith(headers)
        assert.strictEqual(result.status, 401, name)
        assert.strictEqual(result.body.detail, detail, name)
        assert.strictEqual(result.challenge, "Bearer", name)
      }
    })
  )

  it.effect("a non-empty cookie wins over the header, even when invalid", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const invalidCookie = yield* meWith({ cookie: "access_token=garbage", authorization: `Bearer ${user.token}` })
      assert.strictEqual(invalidCookie.status, 401)
      const validCookie = yield* meWith({ cookie: `access_token=${user.token}`, authorization: "Bearer garbage" })
      assert.strictEqual(validCookie.status, 200)
      const emptyCookie = yield* meWith({ cookie: "access_token=", authorization: `Bearer ${user.token}` })
      assert.strictEqual(emptyCookie.status, 200)
      const doubled = yield* meWith({ authorization: `Bearer ${user.token}Bearer xyz` })
      assert.strictEqual(doubled.status, 200)
    })
  )

  it.effect("refresh rotates; the old token is refused, and its reuse revokes every session of the user (D3)", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const api = yield* client
      const second = yield* api.auth.login({ payload: { email: user.email, password: user.password } })
      const [rotated, response] = yield* api.auth.refresh({
        payload: { refresh_token: user.refreshToken },
        withResponse: true
      })
      assert.notStrictEqual(rotated.refresh_token, user.refreshToken)
      assert.include(String(response.headers["set-cookie"]), "access_token=")
      const reuse = yield* Effect.flip(api.auth.refresh({ payload: { refresh_token: user.refreshToken } }))
      assert.deepStrictEqual(reuse, new InvalidCredentials({ detail: "Невалидный или истекший refresh токен" }))
      // the reuse revoked the successor and the other session's token too
      for (const token of [rotated.refresh_token, second.refresh_token]) {
        const refused = yield* Effect.flip(api.auth.refresh({ payload: { refresh_token: token } }))
        assert.strictEqual(detailOf(refused), "Невалидный или истекший refresh токен")
      }
    })
  )

  it.effect("refresh tokens are stored only as their SHA-256", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ token_hash: string }>`SELECT token_hash FROM refresh_tokens WHERE user_id = ${user.id}`
      assert.deepStrictEqual(
        rows.map((r) => r.token_hash),
        [createHash("sha256").update(user.refreshToken).digest("hex")]
      )
      const columns = yield* sql<{ column_name: string }>`
        SELECT column_name FROM information_schema.columns WHERE table_name = 'refresh_tokens'`
      assert.notInclude(
        columns.map((c) => c.column_name),
        "token"
      )
    })
  )

  it.effect("an expired or unknown refresh token is E-08", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = ${user.id}`
      const api = yield* client
      for (const token of [user.refreshToken, "x".repeat(43)]) {
        const refused = yield* Effect.flip(api.auth.refresh({ payload: { refresh_token: token } }))
        assert.strictEqual(detailOf(refused), "Невалидный или истекший refresh токен")
      }
    })
  )

  it.effect("logout revokes the presented access token at once and every refresh token, and deletes the cookie", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const api = yield* clientWithToken(user.token)
      const [message, response] = yield* api.auth.logout({ withResponse: true })
      assert.strictEqual(message.status, "OK")
      const cookie = String(response.headers["set-cookie"])
      assert.include(cookie, "access_token=;")
      assert.include(cookie, "Max-Age=0")
      const after = yield* Effect.flip(api.auth.me())
      assert.deepStrictEqual(after, new Unauthorized({ detail: "Токен невалиден или истек" }))
      const refused = yield* Effect.flip(
        (yield* client).auth.refresh({ payload: { refresh_token: user.refreshToken } })
      )
      assert.strictEqual(detailOf(refused), "Невалидный или истекший refresh токен")
    })
  )

  it.effect("an unparsable stored hash is a wrong password (401 E-07), never a 500", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE users SET hashed_password = 'not-a-bcrypt-hash' WHERE id = ${user.id}`
      const error = yield* Effect.flip(
        (yield* client).auth.login({ payload: { email: user.email, password: user.password } })
      )
      assert.deepStrictEqual(error, new InvalidCredentials({ detail: "Неверный пароль" }))
    })
  )

  it.effect("a hash made by the original (Python bcrypt, $2b$12$) verifies", () =>
    Effect.gen(function* () {
      const email = uniqueEmail("legacy")
      const sql = yield* SqlClient.SqlClient
      // made with Python: bcrypt.hashpw(b"testpass123", bcrypt.gensalt(12)) (Debian python3-bcrypt)
      const legacyHash = "$2b$12$muxx2WyWXruaVSlomr7zNenET1TrWTWj1FRpiXdVqsykADa6ebLqq"
      yield* sql`INSERT INTO users (email, hashed_password) VALUES (${email}, ${legacyHash})`
      const token = yield* (yield* client).auth.login({ payload: { email, password: "testpass123" } })
      assert.strictEqual(token.token_type, "bearer")
    })
  )
})

/**
 * A refresh racing a logout of the same user, against the real PostgreSQL (docs/decisions.md D3, D13).
 * Rotation and logout take the user's row lock first, so they run one after the other: whichever way the
 * race goes, no refresh token of the user works once both have answered. The two orders are forced by a
 * third connection that holds one side inside its transaction; then many unforced rounds.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Messages } from "@shum/domain/Messages"
import { databaseUrl } from "@shum/infra/Testing"
import { Effect, Fiber, Schedule } from "effect"
import pg from "pg"
import { signIn, TestDatabaseName, TestServer } from "./support.js"

const send = (path: string, body?: unknown, token?: string) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const request = HttpClientRequest.post(path).pipe(
      body === undefined ? (r) => r : HttpClientRequest.bodyUnsafeJson(body),
      token === undefined ? (r) => r : HttpClientRequest.bearerToken(token)
    )
    const response = yield* http.execute(request)
    const text = yield* response.text
    return { status: response.status, body: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown> }
  })

const logout = (access: string) => send("/auth/logout", undefined, access)
const refresh = (token: string) => send("/auth/refresh", { refresh_token: token })
const me = (access: string) =>
  Effect.flatMap(HttpClient.HttpClient, (http) =>
    http.execute(HttpClientRequest.get("/auth/me").pipe(HttpClientRequest.bearerToken(access)))
  ).pipe(Effect.map((response) => response.status))

const jtiOf = (access: string): string =>
  JSON.parse(Buffer.from(access.split(".")[1]!, "base64url").toString("utf8")).jti as string

/** A connection of its own on the test database, outside the server's pool. */
const thirdConnection = Effect.acquireRelease(
  Effect.flatMap(TestDatabaseName, (name) =>
    Effect.promise(async () => {
      const client = new pg.Client({ connectionString: databaseUrl(name) })
      await client.connect()
      return client
    })
  ),
  (client) => Effect.promise(() => client.end())
)

/** Until `n` of the database's sessions wait for a lock (the requests forked are parked where expected). */
const lockWaiters = (n: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`
    if (row!.n < n) return yield* Effect.fail("not yet")
  }).pipe(Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("10 seconds"))), Effect.orDie)

const openRefreshTokens = (userId: number) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<{ n: number }>`SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = ${userId} AND NOT is_revoked`
  ).pipe(
    Effect.orDie,
    Effect.map((rows) => rows[0]!.n)
  )

layer(TestServer, { excludeTestServices: true, timeout: "120 seconds" })("refresh racing logout (D3, D13)", (it) => {
  it.scoped("a logout that began first: the refresh waits for it, answers 401, and nothing is left open", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const blocker = yield* thirdConnection
      // the logout parks on its last statement (the jti's row, written but not committed here)
      yield* Effect.promise(() => blocker.query("BEGIN"))
      yield* Effect.promise(() =>
        blocker.query("INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, now() + interval '1 hour')", [
          jtiOf(user.token)
        ])
      )
      const out = yield* Effect.fork(logout(user.token))
      yield* lockWaiters(1)
      const racing = yield* Effect.fork(refresh(user.refreshToken))
      yield* lockWaiters(2)
      yield* Effect.promise(() => blocker.query("ROLLBACK"))

      assert.strictEqual((yield* Fiber.join(out)).status, 200)
      const refused = yield* Fiber.join(racing)
      assert.strictEqual(refused.status, 401)
      assert.strictEqual(refused.body["detail"], Messages.refreshTokenInvalid)
      assert.strictEqual(yield* me(user.token), 401)
      assert.strictEqual(yield* openRefreshTokens(user.id), 0)
    })
  )

  it.scoped("a refresh that began first: the logout waits for it, then revokes the refresh token it issued", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const blocker = yield* thirdConnection
      // the refresh parks inside its transaction (its writes to refresh_tokens wait for this lock)
      yield* Effect.promise(() => blocker.query("BEGIN"))
      yield* Effect.promise(() => blocker.query("LOCK TABLE refresh_tokens IN SHARE MODE"))
      const racing = yield* Effect.fork(refresh(user.refreshToken))
      yield* lockWaiters(1)
      const out = yield* Effect.fork(logout(user.token))
      yield* lockWaiters(2)
      yield* Effect.promise(() => blocker.query("COMMIT"))

      const renewed = yield* Fiber.join(racing)
      assert.strictEqual(renewed.status, 200)
      assert.strictEqual((yield* Fiber.join(out)).status, 200)
      const issued = renewed.body["refresh_token"] as string
      const refused = yield* refresh(issued)
      assert.strictEqual(refused.status, 401)
      assert.strictEqual(refused.body["detail"], Messages.refreshTokenInvalid)
      assert.strictEqual(yield* me(user.token), 401)
      assert.strictEqual(yield* openRefreshTokens(user.id), 0)
      // what holds by design (README, Security): the access token that refresh minted before the logout
      // committed is not the presented one, so it lives until it expires, like another device's
      assert.strictEqual(yield* me(renewed.body["access_token"] as string), 200)
    })
  )

  it.effect("30 rounds of a logout and a refresh sent together: never a refresh token left working", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      let session = { access: user.token, refresh: user.refreshToken }
      for (let round = 0; round < 30; round++) {
        const [out, renewed] = yield* Effect.all([logout(session.access), refresh(session.refresh)], {
          concurrency: "unbounded"
        })
        assert.strictEqual(out.status, 200)
        assert.include([200, 401], renewed.status)
        if (renewed.status === 200) {
          assert.strictEqual((yield* refresh(renewed.body["refresh_token"] as string)).status, 401, `round ${round}`)
        }
        assert.strictEqual(yield* openRefreshTokens(user.id), 0, `round ${round}`)
        const next = yield* send("/auth/login", { email: user.email, password: user.password })
        session = { access: next.body["access_token"] as string, refresh: next.body["refresh_token"] as string }
      }
    })
  )

  it.effect("two refreshes of one token sent together: one rotates, the other is a reuse that ends both", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const answers = yield* Effect.all([refresh(user.refreshToken), refresh(user.refreshToken)], {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(answers.map((a) => a.status).sort(), [200, 401])
      const winner = answers.find((a) => a.status === 200)!
      assert.strictEqual((yield* refresh(winner.body["refresh_token"] as string)).status, 401)
      assert.strictEqual(yield* openRefreshTokens(user.id), 0)
    })
  )
})

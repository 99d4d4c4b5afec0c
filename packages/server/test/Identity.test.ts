/**
 * Identity hygiene and credential changes against the real PostgreSQL (docs/decisions.md D12, D13):
 * passwords bounded by bytes, e-mails unique without regard to case, sessions ended by a credential change.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { ProblemContentType } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { migrations } from "@shum/infra/Migrations"
import { databaseUrl, migrateOnly, withClient } from "@shum/infra/Testing"
import { hash } from "@node-rs/bcrypt"
import { Effect, Layer, Option, Redacted } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { Redis as IORedis } from "ioredis"
import { RETRY_AFTER_SECONDS } from "../src/Http/ErrorMapping.js"
import { SeedLive } from "../src/Seed.js"
import { RedisServicesLive } from "../src/Services.js"
import { captureLogs, privateRedis } from "./OpsSupport.js"
import { makeTestServer, signIn, TestDatabaseName, TestServer, uniqueEmail } from "./support.js"

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE"

const send = (method: Method, path: string, body?: unknown, token?: string) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const request = HttpClientRequest.make(method)(path).pipe(
      body === undefined ? (r) => r : HttpClientRequest.bodyUnsafeJson(body),
      token === undefined ? (r) => r : HttpClientRequest.bearerToken(token)
    )
    const response = yield* http.execute(request)
    const text = yield* response.text
    return {
      status: response.status,
      headers: response.headers,
      body: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown>
    }
  })

const me = (token: string) => send("GET", "/auth/me", undefined, token)
const login = (email: string, password: string) => send("POST", "/auth/login", { email, password })
const refresh = (token: string) => send("POST", "/auth/refresh", { refresh_token: token })

/** Signs in through the API; the tokens of that session. */
const session = (email: string, password: string) =>
  Effect.map(login(email, password), (r) => {
    assert.strictEqual(r.status, 200, JSON.stringify(r.body))
    return { access: r.body["access_token"] as string, refresh: r.body["refresh_token"] as string }
  })

/** The 401s a session ended by a credential change or a logout answers. */
const assertEnded = (tokens: { readonly access: string; readonly refresh: string }, accessDetail: string) =>
  Effect.gen(function* () {
    const access = yield* me(tokens.access)
    assert.strictEqual(access.status, 401)
    assert.strictEqual(access.body["detail"], accessDetail)
    const renewed = yield* refresh(tokens.refresh)
    assert.strictEqual(renewed.status, 401)
    assert.strictEqual(renewed.body["detail"], Messages.refreshTokenInvalid)
  })

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

interface Issue {
  readonly type: string
  readonly loc: ReadonlyArray<string | number>
  readonly msg: string
}
const issuesOf = (body: Record<string, unknown>) => body["detail"] as ReadonlyArray<Issue>

/** 36 Cyrillic letters are 72 bytes in UTF-8; 72 of them are 144 bytes (bcrypt reads the first 72). */
const CYRILLIC_36 = "ж".repeat(36)
const CYRILLIC_72 = "ж".repeat(72)

layer(TestServer, { excludeTestServices: true, timeout: "90 seconds" })("identity (D12, D13)", (it) => {
  it.effect("a password over 72 bytes in UTF-8 is a 422 at the field, on register, login, PUT and PATCH", () =>
    Effect.gen(function* () {
      const email = uniqueEmail("bytes")
      const register = yield* send("POST", "/auth/register", { email, password: CYRILLIC_72 })
      assert.strictEqual(register.status, 422)
      assert.deepStrictEqual(
        issuesOf(register.body).map((i) => [i.type, i.loc, i.msg]),
        [["value_error", ["body", "password"], "Value error, a password must be at most 72 bytes in UTF-8"]]
      )
      // exactly 72 bytes is accepted, and only the whole password opens the account
      assert.strictEqual((yield* send("POST", "/auth/register", { email, password: CYRILLIC_36 })).status, 201)
      assert.strictEqual((yield* send("POST", "/auth/login", { email, password: CYRILLIC_36 })).status, 200)
      const login = yield* send("POST", "/auth/login", { email, password: CYRILLIC_72 })
      assert.strictEqual(login.status, 422)
      assert.deepStrictEqual(issuesOf(login.body)[0]!.loc, ["body", "password"])
      assert.strictEqual((yield* send("POST", "/auth/login", { email, password: `${CYRILLIC_36}x` })).status, 422)

      const user = yield* signIn()
      const put = yield* send("PUT", `/users/${user.id}`, { email: user.email, password: CYRILLIC_72 }, user.token)
      assert.strictEqual(put.status, 422)
      assert.deepStrictEqual(issuesOf(put.body)[0]!.loc, ["body", "password"])
      const patch = yield* send("PATCH", `/users/${user.id}`, { password: `${"€".repeat(24)}!` }, user.token)
      assert.strictEqual(patch.status, 422)
      // the old password still opens the account: nothing was written
      assert.strictEqual(
        (yield* send("POST", "/auth/login", { email: user.email, password: user.password })).status,
        200
      )
    })
  )

  it.effect("e-mails are unique without regard to case: register, login and e-mail changes compare lower-cased", () =>
    Effect.gen(function* () {
      const local = uniqueEmail("Mixed").split("@")[0]!
      const stored = `${local}@example.com`
      const created = yield* send("POST", "/auth/register", { email: stored, password: "password123" })
      assert.strictEqual(created.status, 201)
      assert.strictEqual(created.body["email"], stored) // stored as given
      // a case twin is the original's "already exists", naming the address sent
      const upper = `${local.toUpperCase()}@EXAMPLE.com`
      const twin = yield* send("POST", "/auth/register", { email: upper, password: "password123" })
      assert.strictEqual(twin.status, 409)
      assert.strictEqual(
        twin.body["detail"],
        `Пользователь с email '${local.toUpperCase()}@example.com' уже существует`
      )
      // sign-in in any case opens the one account
      const lower = `${local.toLowerCase()}@example.com`
      const signedIn = yield* session(lower, "password123")
      assert.strictEqual((yield* me(signedIn.access)).body["id"], created.body["id"])
      // another account may not take it in another case, by PUT or PATCH
      const other = yield* signIn()
      const put = yield* send("PUT", `/users/${other.id}`, { email: upper }, other.token)
      assert.strictEqual(put.status, 409)
      assert.strictEqual(put.body["detail"], `Пользователь с email '${local.toUpperCase()}@example.com' уже существует`)
      const patch = yield* send("PATCH", `/users/${other.id}`, { email: lower }, other.token)
      assert.strictEqual(patch.status, 409)
      // the owner may change the case of their own address
      const own = yield* send("PATCH", `/users/${String(created.body["id"])}`, { email: lower }, signedIn.access)
      assert.strictEqual(own.status, 200)
      assert.strictEqual((yield* me(signedIn.access)).body["email"], lower)
    })
  )

  it.effect("a password change ends every earlier session at once: access and refresh tokens → 401 (D13)", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const first = { access: user.token, refresh: user.refreshToken }
      const second = yield* session(user.email, user.password)
      const changed = yield* send("PATCH", `/users/${user.id}`, { password: "another-pass-1" }, user.token)
      assert.strictEqual(changed.status, 200)
      // a session opened right after the change, within the same second, works: the rule is a version, not a time
      const after = yield* session(user.email, "another-pass-1")
      assert.strictEqual((yield* me(after.access)).status, 200)
      yield* assertEnded(first, Messages.tokenInvalid)
      yield* assertEnded(second, Messages.tokenInvalid)
      // presenting an old refresh token is no theft signal: the new session survives it
      assert.strictEqual((yield* refresh(after.refresh)).status, 200)
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ open: number }>`
        SELECT count(*)::int AS open FROM refresh_tokens WHERE user_id = ${user.id} AND NOT is_revoked`
      assert.strictEqual(row!.open, 1)
      // PUT with a password does the same
      const current = yield* session(user.email, "another-pass-1")
      const put = yield* send(
        "PUT",
        `/users/${user.id}`,
        { email: user.email, password: "third-pass-12" },
        current.access
      )
      assert.strictEqual(put.status, 200)
      yield* assertEnded(current, Messages.tokenInvalid)
      assert.strictEqual((yield* login(user.email, "another-pass-1")).status, 401)
      assert.strictEqual((yield* login(user.email, "third-pass-12")).status, 200)
    })
  )

  it.effect("a role change ends the user's sessions; writing the same role or a name does not (D13)", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const admin = yield* signIn("admin")
      const kept = yield* send("PATCH", `/users/${user.id}`, { role: "user", first_name: "Имя" }, admin.token)
      assert.strictEqual(kept.status, 200)
      assert.strictEqual((yield* me(user.token)).status, 200)
      const promoted = yield* send("PATCH", `/users/${user.id}`, { role: "admin" }, admin.token)
      assert.strictEqual(promoted.status, 200)
      yield* assertEnded({ access: user.token, refresh: user.refreshToken }, Messages.tokenInvalid)
      // the admin who made the change keeps their own session
      assert.strictEqual((yield* me(admin.token)).status, 200)
      const next = yield* session(user.email, user.password)
      assert.strictEqual((yield* me(next.access)).body["role"], "admin")
      const demoted = yield* send("PUT", `/users/${user.id}`, { email: user.email, role: "user" }, admin.token)
      assert.strictEqual(demoted.status, 200)
      yield* assertEnded(next, Messages.tokenInvalid)
    })
  )

  it.effect("deleting a user ends their sessions: access and refresh tokens → 401 (D13)", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const second = yield* session(user.email, user.password)
      assert.strictEqual((yield* send("DELETE", `/users/${user.id}`, undefined, user.token)).status, 200)
      yield* assertEnded({ access: user.token, refresh: user.refreshToken }, Messages.userNotFound)
      yield* assertEnded(second, Messages.userNotFound)
    })
  )

  it.effect("logout is recorded in PostgreSQL; when it cannot be, 503 with Retry-After and nothing claimed (D13)", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const sql = yield* SqlClient.SqlClient
      // the database refuses the write (a full disk), the reads still work
      yield* sql.unsafe(`
        CREATE FUNCTION refuse_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = '53100'; END $$;
        CREATE TRIGGER refuse_revocation BEFORE INSERT ON revoked_access_tokens
          FOR EACH ROW EXECUTE FUNCTION refuse_revocation();`)
      const refused = yield* send("POST", "/auth/logout", undefined, user.token)
      yield* sql.unsafe(`DROP TRIGGER refuse_revocation ON revoked_access_tokens; DROP FUNCTION refuse_revocation();`)
      assert.strictEqual(refused.status, 503)
      assert.strictEqual(refused.headers["retry-after"], String(RETRY_AFTER_SECONDS))
      assert.strictEqual(refused.headers["content-type"], ProblemContentType)
      assert.strictEqual(refused.body["detail"], Messages.databaseUnavailable)
      assert.isUndefined(refused.headers["set-cookie"])
      // nothing half-done: the refresh tokens were not revoked either (one transaction)
      const [row] = yield* sql<{ open: number }>`
        SELECT count(*)::int AS open FROM refresh_tokens WHERE user_id = ${user.id} AND NOT is_revoked`
      assert.strictEqual(row!.open, 1)
      assert.strictEqual((yield* me(user.token)).status, 200)
      // the retry succeeds, and is durable
      assert.strictEqual((yield* send("POST", "/auth/logout", undefined, user.token)).status, 200)
      yield* assertEnded({ access: user.token, refresh: user.refreshToken }, Messages.tokenInvalid)
      const [revoked] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM revoked_access_tokens`
      assert.isAtLeast(revoked!.n, 1)
    })
  )

  it.effect("expired revocations are purged by later logouts", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO revoked_access_tokens (jti, expires_at)
                 SELECT 'expired-' || g, now() - interval '1 minute' FROM generate_series(1, 5) g`
      const user = yield* signIn()
      assert.strictEqual((yield* send("POST", "/auth/logout", undefined, user.token)).status, 200)
      const [left] = yield* sql<{ n: number }>`
        SELECT count(*)::int AS n FROM revoked_access_tokens WHERE jti LIKE 'expired-%'`
      assert.strictEqual(left!.n, 0)
    })
  )
})

class PrivateRedis extends Effect.Tag("test/PrivateRedis")<
  PrivateRedis,
  Effect.Effect.Success<typeof privateRedis>
>() {}

// The other Redis-backed services (rate limiter, image jobs) on a private redis-server the test flushes and stops.
const RedisServer = Layer.unwrapScoped(
  Effect.map(privateRedis, (server) =>
    makeTestServer({}, { services: RedisServicesLive({ _tag: "Url", url: Redacted.make(server.url) }) }).pipe(
      Layer.provideMerge(Layer.succeed(PrivateRedis, server))
    )
  )
)

layer(RedisServer, { excludeTestServices: true, timeout: "90 seconds" })("revocation without Redis (D13)", (it) => {
  it.effect("a logged-out token stays refused after Redis loses every key, and while Redis is down", () =>
    Effect.gen(function* () {
      const redis = yield* PrivateRedis
      const before = yield* signIn()
      assert.strictEqual((yield* send("POST", "/auth/logout", undefined, before.token)).status, 200)
      yield* Effect.promise(async () => {
        const client = new IORedis(redis.url, { maxRetriesPerRequest: 0 })
        await client.flushall()
        client.disconnect()
      })
      yield* assertEnded({ access: before.token, refresh: before.refreshToken }, Messages.tokenInvalid)

      const during = yield* signIn()
      yield* Effect.promise(() => redis.kill())
      // Redis is unreachable: the logout is still recorded (in PostgreSQL), so it is a true 200
      assert.strictEqual((yield* send("POST", "/auth/logout", undefined, during.token)).status, 200)
      yield* assertEnded({ access: during.token, refresh: during.refreshToken }, Messages.tokenInvalid)
      yield* assertEnded({ access: before.token, refresh: before.refreshToken }, Messages.tokenInvalid)
      // and sessions still open and close as usual
      const next = yield* session(during.email, during.password)
      assert.strictEqual((yield* me(next.access)).status, 200)
    })
  )
})

// --- legacy case twins (D12) -------------------------------------------------------------------------------

const TWINS = [
  { email: "case@twins.example.com", password: "first-pass-1" },
  { email: "Case@twins.example.com", password: "second-pass-2" },
  { email: "CASE@twins.example.com", password: "third-pass-33" }
] as const

const BEFORE_0006 = (Object.keys(migrations) as Array<keyof typeof migrations>).filter((id) => id < "0006")

/** A database of the previous version holding case twins, as the original let them be made. */
const withTwins = (connection: Parameters<typeof migrateOnly>[0] & { readonly name: string }) =>
  Effect.gen(function* () {
    yield* migrateOnly(connection, BEFORE_0006)
    const hashes = yield* Effect.promise(() => Promise.all(TWINS.map((t) => hash(t.password, { cost: 4 }))))
    yield* withClient(connection.name, (c) =>
      c.query(`INSERT INTO users (email, hashed_password) SELECT * FROM unnest($1::text[], $2::text[])`, [
        TWINS.map((t) => t.email),
        hashes
      ])
    )
  })

const logs = captureLogs()
const TwinsServer = Layer.provideMerge(
  SeedLive({ demo: Option.none() }).pipe(Layer.provide(logs.layer)),
  makeTestServer({}, { prepareDatabase: withTwins })
)

layer(TwinsServer, { excludeTestServices: true, timeout: "120 seconds" })("legacy e-mail case twins (D12)", (it) => {
  it.effect("start-up names them in a warning, and `npm run admin:duplicates` lists them", () =>
    Effect.gen(function* () {
      const warning = logs.entries().find((e) => String(e["message"]).includes("differ only in letter case"))
      assert.isDefined(warning)
      assert.strictEqual(warning!["level"], "WARNING")
      assert.include(String(warning!["message"]), "1 e-mail address(es)")
      assert.include(String(warning!["message"]), "npm run admin:duplicates")
      assert.deepStrictEqual(warning!["user_ids"], [[1, 2, 3]])
      const db = yield* TestDatabaseName
      const { stdout } = yield* Effect.promise(() =>
        promisify(execFile)("npm", ["run", "--silent", "admin:duplicates"], {
          cwd: repoRoot,
          env: { ...process.env, DATABASE_URL: databaseUrl(db), APP_ENV: "test", LOG_LEVEL: "ERROR" }
        })
      )
      assert.strictEqual(
        stdout,
        "case@twins.example.com: #1 case@twins.example.com (user), #2 Case@twins.example.com (user), " +
          "#3 CASE@twins.example.com (user)\n" +
          "1 address(es) shared by accounts that differ only in letter case\n"
      )
    })
  )

  it.effect("each twin signs in with its exact address; another spelling names the oldest", () =>
    Effect.gen(function* () {
      for (const [i, twin] of TWINS.entries()) {
        const tokens = yield* session(twin.email, twin.password)
        const self = yield* me(tokens.access)
        assert.deepStrictEqual([self.body["id"], self.body["email"]], [i + 1, twin.email])
        // another twin's password does not open it
        assert.strictEqual((yield* login(twin.email, TWINS[(i + 1) % 3]!.password)).status, 401)
      }
      const other = yield* session("cAsE@twins.example.com", TWINS[0].password)
      assert.strictEqual((yield* me(other.access)).body["id"], 1)
    })
  )

  it.effect('no new twin: registration and e-mail changes answer the original\'s "already exists"', () =>
    Effect.gen(function* () {
      const register = yield* send("POST", "/auth/register", {
        email: "cAsE@twins.example.com",
        password: "password123"
      })
      assert.strictEqual(register.status, 409)
      assert.strictEqual(register.body["detail"], "Пользователь с email 'cAsE@twins.example.com' уже существует")
      const user = yield* signIn()
      const taken = yield* send("PATCH", `/users/${user.id}`, { email: "CaSe@twins.example.com" }, user.token)
      assert.strictEqual(taken.status, 409)
      // a twin may leave the group for an address of its own, and is then held to the rule like anyone
      const second = yield* session(TWINS[1].email, TWINS[1].password)
      const moved = yield* send("PATCH", "/users/2", { email: "second@twins.example.com" }, second.access)
      assert.strictEqual(moved.status, 200)
      const back = yield* send("PATCH", "/users/2", { email: "CaSe@twins.example.com" }, second.access)
      assert.strictEqual(back.status, 409)
      assert.strictEqual((yield* login("second@twins.example.com", TWINS[1].password)).status, 200)
    })
  )
})

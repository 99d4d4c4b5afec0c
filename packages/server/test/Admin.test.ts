import { HttpClient } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { databaseUrl } from "@shum/infra/Testing"
import { Effect, Layer, Option } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { SeedLive } from "../src/Seed.js"
import { UsersRepo } from "../src/Users/UsersRepo.js"
import { client, clientWithToken, makeTestServer, signIn, TestDatabaseName } from "./support.js"

const ADMIN = { ADMIN_EMAIL: "boss@example.com", ADMIN_PASSWORD: "boss-password-1" }
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

const BootstrappedServer = Layer.provideMerge(
  SeedLive({ demo: Option.none() }),
  makeTestServer(ADMIN, { bcryptCost: 12 })
)

layer(BootstrappedServer, { excludeTestServices: true, timeout: "120 seconds" })("admin bootstrap (D1)", (it) => {
  it.effect("ADMIN_EMAIL/ADMIN_PASSWORD create an admin at start-up who can sign in", () =>
    Effect.gen(function* () {
      const token = yield* (yield* client).auth.login({
        payload: { email: ADMIN.ADMIN_EMAIL, password: ADMIN.ADMIN_PASSWORD }
      })
      const me = yield* (yield* clientWithToken(token.access_token)).auth.me()
      assert.strictEqual(me.role, "admin")
    })
  )

  it.effect("running the bootstrap again changes nothing, and never an existing password", () =>
    Effect.gen(function* () {
      const users = yield* UsersRepo
      const before = Option.getOrThrow(yield* users.findByEmail(ADMIN.ADMIN_EMAIL))
      yield* Layer.build(SeedLive({ demo: Option.none() })).pipe(Effect.scoped)
      const after = Option.getOrThrow(yield* users.findByEmail(ADMIN.ADMIN_EMAIL))
      assert.deepStrictEqual(after, before)
    })
  )

  it.effect("`npm run admin:create` promotes an existing user without touching the password", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const db = yield* TestDatabaseName
      const { stdout } = yield* Effect.promise(() =>
        promisify(execFile)(
          "npm",
          ["run", "--silent", "admin:create", "--", "--email", user.email, "--password", "ignored-password"],
          {
            cwd: repoRoot,
            env: { ...process.env, DATABASE_URL: databaseUrl(db), APP_ENV: "test", LOG_LEVEL: "ERROR" }
          }
        )
      )
      assert.include(stdout, "it is an admin now")
      const token = yield* (yield* client).auth.login({ payload: { email: user.email, password: user.password } })
      assert.strictEqual((yield* (yield* clientWithToken(token.access_token)).auth.me()).role, "admin")
    })
  )

  it.effect("anonymous catalogue writes get 401, a plain user's 403 (D1)", () =>
    Effect.gen(function* () {
      const anonymous = yield* Effect.flip(
        (yield* client).countries.create({ payload: { name: "Испания", iso_code: "ES" } })
      )
      assert.strictEqual(anonymous._tag, "Unauthorized")
      const user = yield* signIn()
      const asUser = yield* Effect.flip(
        (yield* clientWithToken(user.token)).countries.create({ payload: { name: "Испания", iso_code: "ES" } })
      )
      assert.strictEqual(asUser._tag, "Forbidden")
    })
  )

  it.effect("20 concurrent logins do not stall a concurrent GET /health (bcrypt runs off the event loop)", () =>
    Effect.gen(function* () {
      const user = yield* signIn()
      const api = yield* client
      const http = yield* HttpClient.HttpClient
      const logins = Effect.all(
        Array.from({ length: 20 }, () => api.auth.login({ payload: { email: user.email, password: user.password } })),
        { concurrency: "unbounded" }
      )
      const started = Date.now()
      const health = Effect.sleep("50 millis").pipe(
        Effect.zipRight(http.get("/health")),
        Effect.map((response) => ({ status: response.status, ms: Date.now() - started }))
      )
      const [tokens, probe] = yield* Effect.all([logins, health], { concurrency: "unbounded" })
      const loginsDone = Date.now() - started
      assert.strictEqual(tokens.length, 20)
      assert.strictEqual(probe.status, 200)
      // 20 bcrypt verifications at cost 12 take seconds on 2 cores; /health must answer long before them
      assert.isBelow(probe.ms, loginsDone / 2)
    })
  )
})

/**
 * Identity hygiene and credential changes against the real PostgreSQL (docs/decisions.md D12, D13):
 * passwords bounded by bytes, e-mails unique without regard to case, sessions ended by a credential change.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { signIn, TestServer, uniqueEmail } from "./support.js"

const send = (method: "POST" | "PUT" | "PATCH", path: string, body: unknown, token?: string) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const request = HttpClientRequest.make(method)(path).pipe(
      HttpClientRequest.bodyUnsafeJson(body),
      token === undefined ? (r) => r : HttpClientRequest.bearerToken(token)
    )
    const response = yield* http.execute(request)
    return { status: response.status, body: (yield* response.json) as Record<string, unknown> }
  })

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
})

/**
 * Logs (docs/operations.md §4): one access-log line per request with its fields, and no secret — password, access
 * or refresh token, `Authorization` header — in any log line, whatever the outcome of the request.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { accessLine, captureLogs } from "./OpsSupport.js"
import { makeTestServer, uniqueEmail } from "./support.js"

const logs = captureLogs()

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  Effect.flatMap(HttpClient.HttpClient, (http) =>
    http.execute(
      HttpClientRequest.post(path).pipe(HttpClientRequest.bodyUnsafeJson(body), HttpClientRequest.setHeaders(headers))
    )
  )

layer(makeTestServer({}, { around: logs.layer }), { excludeTestServices: true, timeout: "60 seconds" })(
  "logs",
  (it) => {
    it.effect("register, login, refresh, me, logout: no password, token or Authorization in any line", () =>
      Effect.gen(function* () {
        const email = uniqueEmail("logs")
        const password = "Secret-Passw0rd-In-Body"
        const wrongPassword = "Wrong-Passw0rd-In-Body"
        assert.strictEqual((yield* post("/auth/register", { email, password })).status, 201)
        // a 422 echoes its input in the response: the log must not
        assert.strictEqual((yield* post("/auth/register", { email: "not-an-email", password })).status, 422)
        assert.strictEqual((yield* post("/auth/login", { email, password: wrongPassword })).status, 401)
        const login = yield* post("/auth/login", { email, password })
        assert.strictEqual(login.status, 200)
        const tokens = (yield* login.json) as { access_token: string; refresh_token: string }
        const refreshed = yield* post("/auth/refresh", { refresh_token: tokens.refresh_token })
        assert.strictEqual(refreshed.status, 200)
        const next = (yield* refreshed.json) as { access_token: string; refresh_token: string }
        const http = yield* HttpClient.HttpClient
        const me = yield* http.execute(
          HttpClientRequest.get("/auth/me").pipe(HttpClientRequest.bearerToken(next.access_token))
        )
        assert.strictEqual(me.status, 200)
        const user = (yield* me.json) as { id: number }
        // a reused refresh token is logged as a warning: still without the token
        const reused = yield* post("/auth/refresh", { refresh_token: tokens.refresh_token })
        yield* post("/auth/logout", {}, { authorization: `Bearer ${next.access_token}` })

        const meLine = yield* accessLine(logs.entries, me.headers["x-request-id"]!)
        assert.strictEqual(meLine["user_id"], user.id)
        yield* accessLine(logs.entries, login.headers["x-request-id"]!)

        // a line the request logs itself carries its request_id too (read from the request's state), beside the
        // annotation it was logged with
        const warning = logs
          .entries()
          .find((e) => String(e["message"]).startsWith("refresh token reused") && e["level"] === "WARNING")
        assert.isDefined(warning)
        assert.strictEqual(warning!["request_id"], reused.headers["x-request-id"])
        assert.strictEqual(warning!["user_id"], user.id)

        const output = logs.lines.join("\n")
        assert.isAbove(logs.lines.length, 8)
        for (const secret of [
          password,
          wrongPassword,
          tokens.access_token,
          tokens.refresh_token,
          next.access_token,
          next.refresh_token
        ]) {
          assert.notInclude(output, secret)
        }
        assert.notMatch(output, /authorization|bearer/i)
      })
    )

    it.effect("one access-log line per request with method, route, path, status, duration, ids, client", () =>
      Effect.gen(function* () {
        const http = yield* HttpClient.HttpClient
        const response = yield* http.execute(
          HttpClientRequest.get("/hotels/123?access_token=abc&page=2").pipe(
            HttpClientRequest.setHeader("x-request-id", "access-log-test-1"),
            HttpClientRequest.setHeader("x-forwarded-for", "198.51.100.7")
          )
        )
        const line = yield* accessLine(logs.entries, "access-log-test-1")
        assert.strictEqual(line["level"], "INFO")
        assert.strictEqual(line["method"], "GET")
        assert.strictEqual(line["route"], "/hotels/{hotel_id}")
        assert.strictEqual(line["path"], "/hotels/123")
        assert.strictEqual(line["query"], "access_token=REDACTED&page=2")
        assert.strictEqual(line["status"], response.status)
        assert.isNumber(line["duration_s"])
        assert.strictEqual(line["client_ip"], "198.51.100.7")
        // no tracing without an OTLP endpoint, so no trace id (Tracing.test.ts: the line carries it when on)
        assert.isUndefined(line["trace_id"])
        assert.isUndefined(line["user_id"])
        assert.match(
          String(line["message"]),
          new RegExp(
            `^198\\.51\\.100\\.7 - "GET /hotels/123\\?access_token=REDACTED&page=2" ${response.status} \\d+\\.\\d{3}s$`
          )
        )
        assert.notInclude(logs.lines.join("\n"), "access_token=abc")
        const lines = logs
          .entries()
          .filter((e) => e["request_id"] === "access-log-test-1" && e["logger"] === "http.access")
        assert.lengthOf(lines, 1)
      })
    )
  }
)

/**
 * The deferred middleware's one-step path (`AuthMiddleware.ts`, `Tokens.verifiedAt`) over HTTP: an access token
 * the server remembers as verified is refused from its `exp` on exactly as a token it never saw — the same 401,
 * body and headers, nothing written. The server's clock is the real one shifted by an offset the test moves
 * (its sleeps are real), so the token's expiry comes without waiting for it.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { ProblemContentType } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { Clock, type Duration, Effect, Layer } from "effect"
import { Tokens } from "../src/Auth/Tokens.js"
import { day, insertRoom, newUser } from "./BookingsFixtures.js"
import { makeTestServer } from "./support.js"

let offsetMs = 0
const system = Clock.make()
const shifted: Clock.Clock = {
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => system.unsafeCurrentTimeMillis() + offsetMs,
  unsafeCurrentTimeNanos: () => system.unsafeCurrentTimeNanos() + BigInt(offsetMs) * 1_000_000n,
  currentTimeMillis: Effect.sync(() => shifted.unsafeCurrentTimeMillis()),
  currentTimeNanos: Effect.sync(() => shifted.unsafeCurrentTimeNanos()),
  sleep: (duration: Duration.Duration) => system.sleep(duration)
}
/** The server's clock set to `ms` (epoch) from now on. */
const setClock = (ms: number) => Effect.sync(() => void (offsetMs = ms - Date.now()))

/** `POST /holds` with a bearer token: the status, the body and the headers that matter. */
const hold = (token: string, roomId: number, from: number) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const request = HttpClientRequest.post("/holds").pipe(
      HttpClientRequest.bearerToken(token),
      HttpClientRequest.bodyUnsafeJson({ room_id: roomId, date_from: day(from), date_to: day(from + 1) })
    )
    const response = yield* http.execute(request)
    return {
      status: response.status,
      body: JSON.parse(yield* response.text) as Record<string, unknown>,
      contentType: response.headers["content-type"],
      authenticate: response.headers["www-authenticate"]
    }
  }).pipe(Effect.scoped, Effect.orDie)

/** A token's `exp` (epoch seconds), read from its payload. */
const expOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as { exp: number }).exp

const holdsOf = (userId: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: number }>`SELECT count(*)::int AS n FROM holds WHERE user_id = ${userId}`.pipe(
      Effect.map((rows) => rows[0]!.n)
    )
  ).pipe(Effect.orDie)

const Server = makeTestServer({}, { around: Layer.setClock(shifted) })

layer(Server, { excludeTestServices: true, timeout: "60 seconds" })("a remembered access token (one step)", (it) => {
  it.effect("expiring between two POST /holds: the second is the 401 of an unknown expired token", () =>
    Effect.gen(function* () {
      yield* setClock(Date.now())
      const tokens = yield* Tokens
      const room = yield* insertRoom({ quantity: 5, price: 1000 })
      const remembered = yield* newUser()
      const unknown = yield* newUser()
      const exp = Math.max(expOf(remembered.token), expOf(unknown.token))
      assert.isUndefined(tokens.verifiedAt(remembered.token, exp - 2))

      // the first request verifies the token (and remembers it); the next ones take the one-step path
      assert.strictEqual((yield* hold(remembered.token, room.id, 10)).status, 201)
      yield* setClock((exp - 2) * 1000)
      assert.isDefined(tokens.verifiedAt(remembered.token, exp - 2), "remembered: the one-step path answers it")
      assert.strictEqual((yield* hold(remembered.token, room.id, 12)).status, 201)
      assert.strictEqual(yield* holdsOf(remembered.id), 2)

      // both tokens past their exp: the remembered one is refused as the one never presented
      yield* setClock(exp * 1000 + 100)
      const late = yield* hold(remembered.token, room.id, 14)
      const never = yield* hold(unknown.token, room.id, 14)
      for (const answer of [late, never]) {
        assert.strictEqual(answer.status, 401)
        assert.deepStrictEqual(answer.body, {
          type: "/problems/unauthorized",
          title: "Unauthorized",
          status: 401,
          detail: Messages.tokenInvalid
        })
        assert.strictEqual(answer.contentType, ProblemContentType)
        assert.strictEqual(answer.authenticate, "Bearer")
      }
      assert.deepStrictEqual(late, never)
      assert.isUndefined(tokens.verifiedAt(remembered.token, exp))
      // nothing written for either
      assert.strictEqual(yield* holdsOf(remembered.id), 2)
      assert.strictEqual(yield* holdsOf(unknown.id), 0)
    }).pipe(Effect.ensuring(Effect.sync(() => void (offsetMs = 0))))
  )
})

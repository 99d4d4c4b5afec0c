/**
 * The session checked in the write (docs/decisions.md D13): `POST /bookings` (and `POST /holds`, its confirm)
 * verifies the token in the middleware and checks the session — the user exists, the token was not logged
 * out, its version is current — in the write's own statement (`book_stay_in_session`, migration 0014;
 * `hold_place_in_session`, `hold_confirm_in_session`, 0018). Each refusal must be exactly the
 * middleware's (status, body, headers, access log), at once, with nothing written; and where no statement
 * checks the session (a 422 before the write), it is checked before the answer, so 401 still comes first.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { ProblemContentType } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { newSession } from "../src/Auth/DeferredSession.js"
import { BookingsRepo } from "../src/Bookings/BookingsRepo.js"
import { UsersRepo } from "../src/Users/UsersRepo.js"
import { countBookings, day, insertRoom } from "./BookingsFixtures.js"
import { accessLine, captureLogs } from "./OpsSupport.js"
import { makeTestServer, signIn } from "./support.js"

const logs = captureLogs()

/** A request with a bearer token and its own `X-Request-Id`; the status, the body and the headers that matter. */
const send = (
  method: "GET" | "POST",
  path: string,
  token: string | undefined,
  options: { readonly body?: unknown; readonly headers?: Record<string, string> } = {}
) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const requestId = randomUUID()
    let request = HttpClientRequest.make(method)(path).pipe(
      HttpClientRequest.setHeaders({ ...options.headers, "x-request-id": requestId })
    )
    if (token !== undefined) request = HttpClientRequest.bearerToken(request, token)
    if (options.body !== undefined) request = HttpClientRequest.bodyUnsafeJson(request, options.body)
    const response = yield* http.execute(request)
    const text = yield* response.text
    return {
      requestId,
      status: response.status,
      body: text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>),
      contentType: response.headers["content-type"],
      authenticate: response.headers["www-authenticate"]
    }
  }).pipe(Effect.scoped, Effect.orDie)

const stay = (roomId: number, from = 10, to = 12) => ({ room_id: roomId, date_from: day(from), date_to: day(to) })

/** `POST /bookings` answers exactly as an endpoint that checks the session in its middleware (`/bookings/me`). */
const assertRefusedAsTheMiddleware = (token: string, roomId: number, detail: string, headers = {}) =>
  Effect.gen(function* () {
    const eager = yield* send("GET", "/bookings/me", token)
    const deferred = yield* send("POST", "/bookings", token, { body: stay(roomId), headers })
    for (const answer of [eager, deferred]) {
      assert.strictEqual(answer.status, 401)
      assert.deepStrictEqual(answer.body, {
        type: "/problems/unauthorized",
        title: "Unauthorized",
        status: 401,
        detail
      })
      assert.strictEqual(answer.contentType, ProblemContentType)
      assert.strictEqual(answer.authenticate, "Bearer")
    }
    // the same access-log line but for the route: no user, the same status
    const [eagerLine, deferredLine] = [
      yield* accessLine(logs.entries, eager.requestId),
      yield* accessLine(logs.entries, deferred.requestId)
    ]
    assert.notProperty(eagerLine, "user_id")
    assert.notProperty(deferredLine, "user_id")
    assert.strictEqual(deferredLine["status"], 401)
    assert.strictEqual(deferredLine["route"], "/bookings")
    return deferred
  })

layer(makeTestServer({}, { around: logs.layer }), { excludeTestServices: true, timeout: "60 seconds" })(
  "the session checked in the booking's statement (D13)",
  (it) => {
    it.effect("a valid session books in one statement, and the access log names the user", () =>
      Effect.gen(function* () {
        const user = yield* signIn()
        const room = yield* insertRoom({ quantity: 1 })
        const booked = yield* send("POST", "/bookings", user.token, { body: stay(room.id) })
        assert.strictEqual(booked.status, 200, JSON.stringify(booked.body))
        assert.strictEqual((booked.body?.["booking"] as { user_id: number }).user_id, user.id)
        const line = yield* accessLine(logs.entries, booked.requestId)
        assert.strictEqual(line["user_id"], user.id)
        assert.strictEqual(yield* countBookings(room.id), 1)
      })
    )

    it.effect("a logged-out token: 401 E-02 as the middleware answers it, at once, and nothing booked", () =>
      Effect.gen(function* () {
        const user = yield* signIn()
        const room = yield* insertRoom({ quantity: 1 })
        const logout = yield* send("POST", "/auth/logout", user.token)
        assert.strictEqual(logout.status, 200, JSON.stringify(logout.body))
        yield* assertRefusedAsTheMiddleware(user.token, room.id, Messages.tokenInvalid)
        assert.strictEqual(yield* countBookings(room.id), 0)
      })
    )

    it.effect("an Idempotency-Key replay after logout is refused too, and its key is left as it was", () =>
      Effect.gen(function* () {
        const user = yield* signIn()
        const room = yield* insertRoom({ quantity: 2 })
        const headers = { "idempotency-key": "replay-after-logout" }
        const first = yield* send("POST", "/bookings", user.token, { body: stay(room.id), headers })
        assert.strictEqual(first.status, 200)
        const replay = yield* send("POST", "/bookings", user.token, { body: stay(room.id), headers })
        assert.deepStrictEqual(replay.body, first.body)
        yield* send("POST", "/auth/logout", user.token)
        yield* assertRefusedAsTheMiddleware(user.token, room.id, Messages.tokenInvalid, headers)
        assert.strictEqual(yield* countBookings(room.id), 1)
        // a new session of the same user still gets the first answer: the refusal touched no key
        const again = yield* send("POST", "/auth/login", undefined, {
          body: { email: user.email, password: user.password }
        })
        const token = again.body?.["access_token"] as string
        const replayed = yield* send("POST", "/bookings", token, { body: stay(room.id), headers })
        assert.deepStrictEqual(replayed.body, first.body)
        assert.strictEqual(yield* countBookings(room.id), 1)
      })
    )

    it.effect("a deleted user: 401 E-05 as the middleware answers it, and nothing booked", () =>
      Effect.gen(function* () {
        const user = yield* signIn()
        const room = yield* insertRoom({ quantity: 1 })
        assert.isTrue(yield* Effect.flatMap(UsersRepo, (users) => users.remove(user.id)))
        yield* assertRefusedAsTheMiddleware(user.token, room.id, Messages.userNotFound)
        assert.strictEqual(yield* countBookings(room.id), 0)
      })
    )

    it.effect("a password or role change since the token was issued: 401 E-02, and nothing booked", () =>
      Effect.gen(function* () {
        const users = yield* UsersRepo
        const demoted = yield* signIn("admin")
        const changed = yield* signIn()
        const room = yield* insertRoom({ quantity: 2 })
        yield* users.update(demoted.id, { role: "user" })
        yield* users.update(changed.id, {
          hashed_password: "$2b$04$abcdefghijklmnopqrstuuJ3hU1b1ZcNu0v3eQJQe3lP2kd3bGx1y"
        })
        yield* assertRefusedAsTheMiddleware(demoted.token, room.id, Messages.tokenInvalid)
        yield* assertRefusedAsTheMiddleware(changed.token, room.id, Messages.tokenInvalid)
        assert.strictEqual(yield* countBookings(room.id), 0)
      })
    )

    it.effect("401 still comes before 422: a refused session with a bad body, or a stay beyond the limits", () =>
      Effect.gen(function* () {
        const user = yield* signIn()
        const room = yield* insertRoom({ quantity: 1 })
        yield* send("POST", "/auth/logout", user.token)
        // decoded by HttpApi (no statement runs), and refused by the service before any SQL (D11)
        for (const body of [{ room_id: "x" }, stay(room.id, 10, 10 + 400)]) {
          const answer = yield* send("POST", "/bookings", user.token, { body })
          assert.strictEqual(answer.status, 401, JSON.stringify(answer.body))
          assert.strictEqual(answer.body?.["detail"], Messages.tokenInvalid)
          assert.strictEqual(answer.authenticate, "Bearer")
        }
        // a valid session gets the 422s, and the access log names the user as the middleware would
        const other = yield* signIn()
        const invalid = yield* send("POST", "/bookings", other.token, { body: { room_id: "x" } })
        assert.strictEqual(invalid.status, 422)
        assert.strictEqual((yield* accessLine(logs.entries, invalid.requestId))["user_id"], other.id)
        assert.strictEqual(yield* countBookings(room.id), 0)
      })
    )

    it.effect("the statement itself checks: the repository's answers, the middleware's lookup never run", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const repo = yield* Effect.provide(BookingsRepo, BookingsRepo.Default)
        const user = yield* signIn()
        const room = yield* insertRoom({ quantity: 5 })
        // a session whose eager check would fail the test: only the statement may answer
        const session = (claims: { userId?: number; jti?: string; version?: number }) =>
          newSession(
            { userId: user.id, jti: randomUUID(), version: 0, expiresAt: 0, ...claims },
            Effect.dieMessage("the eager check ran")
          )
        const book = (claims: { userId?: number; jti?: string; version?: number }) =>
          repo.bookInSession(session(claims), { roomId: room.id, from: day(20), to: day(21), today: day(0) })
        const booked = yield* book({})
        assert.strictEqual(booked._tag, "Booked")
        const revoked = randomUUID()
        yield* sql`INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (${revoked}, now() + interval '1 hour')`
        const refusals = [
          yield* Effect.flip(book({ jti: revoked })),
          yield* Effect.flip(book({ version: 1 })),
          yield* Effect.flip(book({ userId: 2_000_000_000 }))
        ]
        assert.deepStrictEqual(
          refusals.map((e) => [e._tag, "detail" in e ? e.detail : undefined]),
          [
            ["Unauthorized", Messages.tokenInvalid],
            ["Unauthorized", Messages.tokenInvalid],
            ["Unauthorized", Messages.userNotFound]
          ]
        )
        assert.strictEqual(yield* countBookings(room.id), 1)
      })
    )

    it.effect(
      "holds: a logged-out token is refused at POST /holds and at its confirm, as the middleware refuses it",
      () =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const user = yield* signIn()
          const room = yield* insertRoom({ quantity: 1 })
          const held = yield* send("POST", "/holds", user.token, { body: stay(room.id, 30, 32) })
          assert.strictEqual(held.status, 201, JSON.stringify(held.body))
          const holdId = held.body?.["id"] as number
          yield* send("POST", "/auth/logout", user.token)
          const place = yield* send("POST", "/holds", user.token, { body: stay(room.id, 40, 41) })
          const confirm = yield* send("POST", `/holds/${holdId}/confirm`, user.token)
          const eager = yield* send("GET", `/holds/${holdId}`, user.token)
          for (const answer of [place, confirm]) {
            assert.strictEqual(answer.status, 401)
            assert.deepStrictEqual(answer.body, eager.body)
            assert.strictEqual(answer.authenticate, "Bearer")
            assert.notProperty(yield* accessLine(logs.entries, answer.requestId), "user_id")
          }
          const holds = yield* sql<{ status: string }>`SELECT status FROM holds WHERE user_id = ${user.id}`
          assert.deepStrictEqual(holds, [{ status: "active" }])
          assert.strictEqual(yield* countBookings(room.id), 0)
        })
    )

    it.effect(
      "holds: a confirm reads the caller's role in its statement — an admin confirms anyone's, a demoted one is refused",
      () =>
        Effect.gen(function* () {
          const users = yield* UsersRepo
          const owner = yield* signIn()
          const admin = yield* signIn("admin")
          const demoted = yield* signIn("admin")
          const room = yield* insertRoom({ quantity: 3 })
          const hold = (from: number) =>
            Effect.map(send("POST", "/holds", owner.token, { body: stay(room.id, from, from + 1) }), (r) => {
              assert.strictEqual(r.status, 201, JSON.stringify(r.body))
              return r.body?.["id"] as number
            })
          const [first, second] = [yield* hold(50), yield* hold(51)]
          const confirmed = yield* send("POST", `/holds/${first}/confirm`, admin.token)
          assert.strictEqual(confirmed.status, 200, JSON.stringify(confirmed.body))
          assert.strictEqual((confirmed.body as { user_id: number }).user_id, owner.id)
          yield* users.update(demoted.id, { role: "user" })
          const refused = yield* send("POST", `/holds/${second}/confirm`, demoted.token)
          assert.strictEqual(refused.status, 401)
          assert.strictEqual(refused.body?.["detail"], Messages.tokenInvalid)
          // another user (not an admin) is told the hold does not exist, as before
          const stranger = yield* signIn()
          const hidden = yield* send("POST", `/holds/${second}/confirm`, stranger.token)
          assert.strictEqual(hidden.status, 404)
          assert.strictEqual(yield* countBookings(room.id), 1)
        })
    )

    it.effect(
      "a token whose verification the server remembers (used on every write) is refused at once after logout or a version bump",
      () =>
        Effect.gen(function* () {
          const users = yield* UsersRepo
          const room = yield* insertRoom({ quantity: 10 })
          /** Every write of the checkout with `token`, the last hold left unconfirmed for the refusal's confirm. */
          const writes = (token: string, from: number) =>
            Effect.gen(function* () {
              const booked = yield* send("POST", "/bookings", token, { body: stay(room.id, from, from + 1) })
              const held = yield* send("POST", "/holds", token, { body: stay(room.id, from + 1, from + 2) })
              const confirmed = yield* send("POST", `/holds/${held.body?.["id"] as number}/confirm`, token)
              const pending = yield* send("POST", "/holds", token, { body: stay(room.id, from + 2, from + 3) })
              return [
                booked.status,
                held.status,
                confirmed.status,
                pending.status,
                pending.body?.["id"] as number
              ] as const
            })
          const refusedEverywhere = (token: string, holdId: number, from: number, detail: string) =>
            Effect.gen(function* () {
              const answers = [
                yield* send("POST", "/bookings", token, { body: stay(room.id, from, from + 1) }),
                yield* send("POST", "/holds", token, { body: stay(room.id, from, from + 1) }),
                yield* send("POST", `/holds/${holdId}/confirm`, token)
              ]
              assert.deepStrictEqual(
                answers.map((a) => [a.status, a.body?.["detail"]]),
                [
                  [401, detail],
                  [401, detail],
                  [401, detail]
                ]
              )
            })
          const loggedOut = yield* signIn()
          const [b1, h1, c1, p1, pending1] = yield* writes(loggedOut.token, 60)
          assert.deepStrictEqual([b1, h1, c1, p1], [200, 201, 200, 201])
          yield* send("POST", "/auth/logout", loggedOut.token)
          yield* refusedEverywhere(loggedOut.token, pending1, 70, Messages.tokenInvalid)
          const changed = yield* signIn()
          const [b2, h2, c2, p2, pending2] = yield* writes(changed.token, 80)
          assert.deepStrictEqual([b2, h2, c2, p2], [200, 201, 200, 201])
          yield* users.update(changed.id, { role: "admin" })
          yield* refusedEverywhere(changed.token, pending2, 90, Messages.tokenInvalid)
          const deleted = yield* signIn()
          const [b3, h3, c3, p3, pending3] = yield* writes(deleted.token, 100)
          assert.deepStrictEqual([b3, h3, c3, p3], [200, 201, 200, 201])
          const sql = yield* SqlClient.SqlClient
          yield* sql`DELETE FROM holds WHERE user_id = ${deleted.id}`
          yield* sql`DELETE FROM bookings WHERE user_id = ${deleted.id}`
          assert.isTrue(yield* users.remove(deleted.id))
          yield* refusedEverywhere(deleted.token, pending3, 110, Messages.userNotFound)
          // two confirmed stays and one pending hold of each user before the refusals, nothing after them
          assert.strictEqual(yield* countBookings(room.id), 4)
        })
    )

    it.effect("a refused session's statement writes nothing: no key, no booking, no outbox event", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const user = yield* signIn()
        const room = yield* insertRoom({ quantity: 1 })
        yield* send("POST", "/auth/logout", user.token)
        const events = (yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox_events`)[0]!.n
        const refused = yield* send("POST", "/bookings", user.token, {
          body: stay(room.id),
          headers: { "idempotency-key": "refused" }
        })
        assert.strictEqual(refused.status, 401)
        const keys = yield* sql<{
          n: number
        }>`SELECT count(*)::int AS n FROM idempotency_keys WHERE user_id = ${user.id}`
        assert.strictEqual(keys[0]!.n, 0)
        assert.strictEqual((yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox_events`)[0]!.n, events)
        assert.strictEqual(yield* countBookings(room.id), 0)
      })
    )
  }
)

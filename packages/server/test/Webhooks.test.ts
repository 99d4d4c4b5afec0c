/**
 * Webhook subscriptions (docs/api.md §14, docs/decisions.md D16) on the real server and PostgreSQL: admin only,
 * the secret shown once and stored encrypted, the SSRF rules on the URL, rotation, ping and redeliver queueing
 * deliveries; and the outbox's one promise — an event commits with its change or not at all.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { NotFound } from "@shum/domain/Errors"
import { Outbox } from "@shum/infra/Outbox"
import { Effect } from "effect"
import { client, clientWithToken, makeTestServer, signIn } from "./support.js"

const TestServer = makeTestServer({ WEBHOOK_ALLOWED_HOSTS: "receiver.test,127.0.0.1" })

const admin = Effect.flatMap(signIn("admin"), (who) => clientWithToken(who.token))

/** What a create answered, read loosely (a 201's members or a 422's problems). */
interface Answer {
  readonly id: number
  readonly secret: string
  readonly events: ReadonlyArray<string>
  readonly hotel_ids: ReadonlyArray<number>
  readonly enabled: boolean
  readonly detail: ReadonlyArray<{ readonly loc: ReadonlyArray<string | number>; readonly msg: string }>
}

/** A raw POST, to see exactly what the server answered. */
const post = (token: string, path: string, body: unknown) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const response = yield* http.execute(
      HttpClientRequest.post(path).pipe(HttpClientRequest.bearerToken(token), HttpClientRequest.bodyUnsafeJson(body))
    )
    return { status: response.status, headers: response.headers, json: (yield* response.json) as Answer }
  }).pipe(Effect.scoped, Effect.orDie)

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("webhook subscriptions", (it) => {
  it.effect("admin only: anonymous 401, a user 403", () =>
    Effect.gen(function* () {
      const anonymous = yield* Effect.flip((yield* client).webhooks.list())
      assert.strictEqual(anonymous._tag, "Unauthorized")
      const user = yield* signIn()
      const asUser = yield* Effect.flip((yield* clientWithToken(user.token)).webhooks.list())
      assert.strictEqual(asUser._tag, "Forbidden")
    })
  )

  it.effect("create answers 201, Location and the secret once; the secret is stored encrypted, never listed", () =>
    Effect.gen(function* () {
      const who = yield* signIn("admin")
      const created = yield* post(who.token, "/webhooks", {
        url: "https://hooks.example.com/shum",
        events: ["booking.*", "image.processed"],
        hotel_ids: [1, 2],
        description: "channel manager"
      })
      assert.strictEqual(created.status, 201, JSON.stringify(created.json))
      assert.strictEqual(created.headers["location"], `/webhooks/${created.json.id}`)
      assert.match(created.json.secret, /^whsec_[A-Za-z0-9+/]{32}$/)
      assert.deepStrictEqual(created.json.events, ["booking.*", "image.processed"])
      assert.deepStrictEqual(created.json.hotel_ids, [1, 2])
      assert.isTrue(created.json.enabled)
      const api = yield* clientWithToken(who.token)
      const read = yield* api.webhooks.get({ path: { webhook_id: created.json.id } })
      assert.notProperty(read, "secret")
      assert.strictEqual(read.description, "channel manager")
      const listed = yield* api.webhooks.list()
      assert.isTrue(listed.some((w) => w.id === created.json.id))
      assert.notInclude(JSON.stringify(listed), created.json.secret)
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{
        secret: string
      }>`SELECT secret FROM webhook_subscriptions WHERE id = ${created.json.id}`
      assert.isTrue(row!.secret.startsWith("v1:"))
      assert.notInclude(row!.secret, created.json.secret.slice(6))
    })
  )

  it.effect(
    "URLs: https anywhere public; http only to WEBHOOK_ALLOWED_HOSTS; private and metadata addresses refused",
    () =>
      Effect.gen(function* () {
        const who = yield* signIn("admin")
        const refused = [
          ["http://hooks.example.com/x", "http is accepted only for hosts in WEBHOOK_ALLOWED_HOSTS"],
          ["ftp://hooks.example.com/x", "only https URLs are accepted"],
          ["https://169.254.169.254/latest/meta-data", "the address 169.254.169.254 is metadata"],
          ["https://10.1.2.3/x", "the address 10.1.2.3 is private"],
          ["https://[::1]/x", "the address ::1 is loopback"],
          ["https://[::ffff:192.168.0.1]/x", "is private"],
          // IPv6 spellings carrying an IPv4 address: IPv4-compatible, SIIT, 6to4, Teredo
          ["https://[::127.0.0.1]/x", "is reserved"],
          ["https://[::ffff:0:7f00:1]/x", "is reserved"],
          ["https://[2002:7f00:1::]/x", "is reserved"],
          ["https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x", "is reserved"],
          ["https://user:pw@hooks.example.com/x", "credentials in the URL are not accepted"],
          ["not a url", "not an absolute URL"]
        ] as const
        for (const [url, why] of refused) {
          const answer = yield* post(who.token, "/webhooks", { url, events: ["*"] })
          assert.strictEqual(answer.status, 422, url)
          assert.deepStrictEqual(answer.json.detail[0]!.loc, ["body", "url"], url)
          assert.include(answer.json.detail[0]!.msg, why, url)
        }
        for (const url of [
          "http://receiver.test:8080/hook",
          "http://127.0.0.1:9/hook",
          "https://hooks.example.com/x",
          "https://[2606:4700:4700::1111]/x"
        ]) {
          const answer = yield* post(who.token, "/webhooks", { url, events: ["*"] })
          assert.strictEqual(answer.status, 201, `${url}: ${JSON.stringify(answer.json)}`)
        }
        const badEvents = yield* post(who.token, "/webhooks", { url: "https://a.example.com", events: ["nothing.*"] })
        assert.strictEqual(badEvents.status, 422)
        assert.deepStrictEqual(badEvents.json.detail[0]!.loc, ["body", "events", 0])
        const noEvents = yield* post(who.token, "/webhooks", { url: "https://a.example.com", events: [] })
        assert.strictEqual(noEvents.status, 422)
      })
  )

  it.effect("PATCH changes what is present (URL rules too), DELETE removes; unknown id → 404 E-27", () =>
    Effect.gen(function* () {
      const api = yield* admin
      const created = yield* api.webhooks.create({ payload: { url: "https://a.example.com/h", events: ["hotel.*"] } })
      const patched = yield* api.webhooks.patch({
        path: { webhook_id: created.id },
        payload: { events: ["room.created"], hotel_ids: [7], enabled: false }
      })
      assert.deepStrictEqual([patched.events, patched.hotel_ids, patched.enabled], [["room.created"], [7], false])
      assert.strictEqual(patched.url, "https://a.example.com/h")
      const refused = yield* Effect.flip(
        api.webhooks.patch({ path: { webhook_id: created.id }, payload: { url: "https://127.0.0.2/x" } })
      )
      assert.strictEqual(refused._tag, "ValidationError")
      const cleared = yield* api.webhooks.patch({ path: { webhook_id: created.id }, payload: { hotel_ids: null } })
      assert.isNull(cleared.hotel_ids)
      yield* api.webhooks.delete({ path: { webhook_id: created.id } })
      const gone = yield* Effect.flip(api.webhooks.get({ path: { webhook_id: created.id } }))
      assert.deepStrictEqual(gone, new NotFound({ detail: "Вебхук не найден" }))
      const again = yield* Effect.flip(api.webhooks.delete({ path: { webhook_id: created.id } }))
      assert.strictEqual(again._tag, "NotFound")
    })
  )

  it.effect("rotate-secret: a new secret once; the previous one stays valid until the grace period ends", () =>
    Effect.gen(function* () {
      const api = yield* admin
      const created = yield* api.webhooks.create({ payload: { url: "https://a.example.com/h", events: ["*"] } })
      const rotated = yield* api.webhooks.rotateSecret({
        path: { webhook_id: created.id },
        urlParams: { grace_period_seconds: 3600 }
      })
      assert.notStrictEqual(rotated.secret, created.secret)
      const expires = Date.parse(rotated.previous_secret_expires_at!)
      assert.approximately(expires - Date.now(), 3_600_000, 60_000)
      const read = yield* api.webhooks.get({ path: { webhook_id: created.id } })
      assert.strictEqual(read.previous_secret_expires_at, rotated.previous_secret_expires_at)
      const immediate = yield* api.webhooks.rotateSecret({
        path: { webhook_id: created.id },
        urlParams: { grace_period_seconds: 0 }
      })
      assert.isNull(immediate.previous_secret_expires_at)
      const missing = yield* Effect.flip(api.webhooks.rotateSecret({ path: { webhook_id: 999_999 }, urlParams: {} }))
      assert.strictEqual(missing._tag, "NotFound")
    })
  )

  it.effect("ping queues a webhook.ping delivery (202); deliveries page by cursor; redeliver queues it again", () =>
    Effect.gen(function* () {
      const api = yield* admin
      const created = yield* api.webhooks.create({ payload: { url: "https://a.example.com/h", events: ["booking.*"] } })
      const pings = []
      for (let i = 0; i < 3; i++) pings.push(yield* api.webhooks.ping({ path: { webhook_id: created.id } }))
      assert.deepStrictEqual(
        pings.map((p) => [p.event_type, p.status, p.attempts]),
        Array(3).fill(["webhook.ping", "pending", 0])
      )
      const first = yield* api.webhooks.deliveries({ path: { webhook_id: created.id }, urlParams: { limit: 2 } })
      assert.deepStrictEqual(
        first.items.map((d) => d.id),
        [pings[2]!.id, pings[1]!.id]
      )
      const second = yield* api.webhooks.deliveries({
        path: { webhook_id: created.id },
        urlParams: { limit: 2, cursor: first.next_cursor! }
      })
      assert.deepStrictEqual(
        second.items.map((d) => d.id),
        [pings[0]!.id]
      )
      assert.isNull(second.next_cursor)
      const again = yield* api.webhooks.redeliver({ path: { webhook_id: created.id, delivery_id: pings[0]!.id } })
      assert.strictEqual(again.event_id, pings[0]!.event_id)
      assert.notStrictEqual(again.id, pings[0]!.id)
      const dead = yield* api.webhooks.deliveries({ path: { webhook_id: created.id }, urlParams: { status: "dead" } })
      assert.deepStrictEqual(dead.items, [])
      const unknown = yield* Effect.flip(
        api.webhooks.redeliver({ path: { webhook_id: created.id, delivery_id: 2 ** 40 } })
      )
      assert.deepStrictEqual(unknown, new NotFound({ detail: "Доставка вебхука не найдена" }))
    })
  )

  it.effect("Outbox.record writes in the caller's transaction: a rollback leaves no event, a commit one", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const outbox = yield* Outbox
      const count = (type: string) =>
        Effect.map(
          sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox_events WHERE type = ${type}`,
          (r) => r[0]!.n
        )
      const failed = yield* Effect.exit(
        Effect.gen(function* () {
          yield* outbox.record("hotel.deleted", { id: 4242, hotel_id: 4242 })
          return yield* Effect.fail("the change failed")
        }).pipe(sql.withTransaction)
      )
      assert.strictEqual(failed._tag, "Failure")
      assert.strictEqual(yield* count("hotel.deleted"), 0)
      yield* outbox.record("hotel.deleted", { id: 4243, hotel_id: 4243 }).pipe(sql.withTransaction)
      assert.strictEqual(yield* count("hotel.deleted"), 1)
      const [row] = yield* sql<{ entity: string; hotel_id: number; data: unknown }>`
        SELECT entity, hotel_id, data FROM outbox_events WHERE type = 'hotel.deleted'`
      assert.deepStrictEqual(row, { entity: "hotel:4243", hotel_id: 4243, data: { id: 4243, hotel_id: 4243 } })
    })
  )
})

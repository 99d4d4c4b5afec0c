/**
 * The audit log (docs/decisions.md D17, docs/data.md BR-15, docs/api.md §15) on the real PostgreSQL: each kind
 * of admin write leaves exactly one row with the before/after of what it changed and the request's id, in the
 * transaction of the write (a write refused or rolled back leaves none); no password, hash or secret ever
 * enters a row; `hotel.updated` / `room.updated` events carry the same diff; `GET /audit` filters, pages
 * newest first and walks every row exactly once while rows are being written; the table stays append-only.
 */
import { HttpClient } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { CurrentUser } from "@shum/domain/Security"
import { randomName } from "@shum/infra/Testing"
import { Deferred, Effect, Fiber } from "effect"
import { afterAll } from "vitest"
import { imageDirPath, jpeg, removeDir } from "../../worker/test/ImageFixtures.js"
import { AUDIT_QUERY_BUDGET_MS } from "../src/Audit/AuditRepo.js"
import { AuditTrail } from "../src/Audit/AuditTrail.js"
import { day, insertRoom, newUser, raw } from "./BookingsFixtures.js"
import { form, uploadAs } from "./ImagesSupport.js"
import { eventsAfter, lastEvent } from "./OutboxFixtures.js"
import { makeTestServer } from "./support.js"

const dir = imageDirPath()
afterAll(() => removeDir(dir))

const TestServer = makeTestServer({ IMAGE_DIR: dir, IMAGE_UPLOAD_WAIT_SECONDS: "0" })

interface AuditRow {
  readonly id: number
  readonly actor_id: number | null
  readonly actor_email: string | null
  readonly action: string
  readonly entity: string
  readonly entity_id: string | null
  readonly changes: Record<string, { before?: unknown; after?: unknown }>
  readonly request_id: string | null
}

const sqlOf = <A>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  Effect.flatMap(SqlClient.SqlClient, f).pipe(Effect.orDie)

const lastAudit = sqlOf((sql) =>
  sql<{ n: number }>`SELECT COALESCE(max(id), 0)::float8 AS n FROM audit_log`.pipe(Effect.map((r) => r[0]!.n))
)

/** The rows written since `after`, in order. */
const auditAfter = (after: number) =>
  sqlOf(
    (
      sql
    ) => sql<AuditRow>`SELECT id::float8 AS id, actor_id, actor_email, action, entity, entity_id, changes, request_id
      FROM audit_log WHERE id > ${after} ORDER BY id`
  )

/** Runs `write`, then asserts it left exactly one row, and returns it. */
const onlyRow = <A, E, R>(write: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const mark = yield* lastAudit
    const result = yield* write
    const rows = yield* auditAfter(mark)
    assert.strictEqual(rows.length, 1, `${JSON.stringify(rows)} ${JSON.stringify(result).slice(0, 300)}`)
    return { row: rows[0]!, result }
  })

const ok = (response: { status: number; body: unknown }, status = 200) => {
  assert.strictEqual(response.status, status, JSON.stringify(response.body))
  return response.body as Record<string, unknown>
}

layer(TestServer, { excludeTestServices: true, timeout: "90 seconds" })("the audit log", (it) => {
  it.effect("catalogue writes: one row each, with actor, action, entity, request id and the changed fields", () =>
    Effect.gen(function* () {
      const admin = yield* newUser("admin")
      const as = (method: "POST" | "PUT" | "PATCH" | "DELETE", path: string, body?: unknown) => {
        const requestId = randomName("req")
        return Effect.map(
          raw(method, path, { token: admin.token, body, headers: { "x-request-id": requestId } }),
          (response) => ({ ...response, requestId })
        )
      }

      const countryName = randomName("Страна-")
      const created = yield* onlyRow(as("POST", "/countries", { name: countryName, iso_code: "qz" }))
      const countryId = ok(created.result)["id"] as number
      assert.deepStrictEqual(
        { ...created.row, id: 0 },
        {
          id: 0,
          actor_id: admin.id,
          actor_email: admin.email,
          action: "country.created",
          entity: "country",
          entity_id: String(countryId),
          changes: { name: { after: countryName }, iso_code: { after: "QZ" } },
          request_id: created.result.requestId
        }
      )
      const patched = yield* onlyRow(as("PATCH", `/countries/${countryId}`, { iso_code: "QY" }))
      ok(patched.result)
      assert.deepStrictEqual(patched.row.changes, { iso_code: { before: "QZ", after: "QY" } })
      assert.strictEqual(patched.row.action, "country.updated")

      const city = yield* onlyRow(as("POST", "/cities", { name: randomName("Город-"), country_id: countryId }))
      const cityId = ok(city.result)["id"] as number
      assert.strictEqual(city.row.action, "city.created")
      const renamed = randomName("Город-")
      const cityPut = yield* onlyRow(as("PUT", `/cities/${cityId}`, { name: renamed, country_id: countryId }))
      ok(cityPut.result)
      assert.deepStrictEqual(Object.keys(cityPut.row.changes), ["name"])
      assert.strictEqual(cityPut.row.changes["name"]!.after, renamed)

      const facility = yield* onlyRow(as("POST", "/facilities", { title: randomName("Wi-Fi ") }))
      const facilityId = ok(facility.result)["id"] as number
      assert.strictEqual(facility.row.action, "facility.created")

      const hotelTitle = randomName("Отель-")
      const hotel = yield* onlyRow(
        as("POST", "/hotels", { title: hotelTitle, city: renamed, address: "ул. Ленина, 1" })
      )
      const hotelId = ok(hotel.result)["id"] as number
      assert.strictEqual(hotel.row.action, "hotel.created")
      assert.deepInclude(hotel.row.changes, { title: { after: hotelTitle }, city_id: { after: cityId } })
      const hotelPatch = yield* onlyRow(as("PATCH", `/hotels/${hotelId}`, { address: "ул. Мира, 2" }))
      ok(hotelPatch.result)
      assert.deepStrictEqual(hotelPatch.row.changes, {
        address: { before: "ул. Ленина, 1", after: "ул. Мира, 2" }
      })

      const room = yield* onlyRow(
        as("POST", `/hotels/${hotelId}/rooms`, { title: "Стандарт", price: 3000, quantity: 2, facility_ids: [] })
      )
      const roomId = ok(room.result)["id"] as number
      assert.strictEqual(room.row.action, "room.created")
      assert.deepInclude(room.row.changes, {
        price: { after: 3000 },
        quantity: { after: 2 },
        facility_ids: { after: [] }
      })
      const price = yield* onlyRow(as("PATCH", `/hotels/${hotelId}/rooms/${roomId}`, { price: 3500 }))
      ok(price.result)
      assert.deepStrictEqual(price.row, {
        ...price.row,
        action: "room.updated",
        entity: "room",
        entity_id: String(roomId),
        changes: { price: { before: 3000, after: 3500 } }
      })
      const put = yield* onlyRow(
        as("PUT", `/hotels/${hotelId}/rooms/${roomId}`, {
          title: "Стандарт",
          price: 3500,
          quantity: 3,
          facility_ids: [facilityId]
        })
      )
      ok(put.result)
      assert.deepStrictEqual(put.row.changes, {
        quantity: { before: 2, after: 3 },
        facility_ids: { before: [], after: [facilityId] }
      })

      // a write that changes nothing records nothing
      const mark = yield* lastAudit
      ok(yield* as("PATCH", `/hotels/${hotelId}/rooms/${roomId}`, { price: 3500 }))
      assert.deepStrictEqual(yield* auditAfter(mark), [])

      const roomGone = yield* onlyRow(as("DELETE", `/hotels/${hotelId}/rooms/${roomId}`))
      ok(roomGone.result)
      assert.strictEqual(roomGone.row.action, "room.deleted")
      assert.deepInclude(roomGone.row.changes, { price: { before: 3500 }, facility_ids: { before: [facilityId] } })
      const facilityGone = yield* onlyRow(as("DELETE", `/facilities/${facilityId}`))
      ok(facilityGone.result)
      assert.strictEqual(facilityGone.row.action, "facility.deleted")
      const hotelGone = yield* onlyRow(as("DELETE", `/hotels/${hotelId}`))
      ok(hotelGone.result)
      assert.deepInclude(hotelGone.row, { action: "hotel.deleted", entity_id: String(hotelId) })
      assert.deepInclude(hotelGone.row.changes, { address: { before: "ул. Мира, 2" } })
      const cityGone = yield* onlyRow(as("DELETE", `/cities/${cityId}`))
      ok(cityGone.result)
      assert.strictEqual(cityGone.row.action, "city.deleted")
      const countryGone = yield* onlyRow(as("DELETE", `/countries/${countryId}`))
      ok(countryGone.result)
      assert.deepStrictEqual(countryGone.row.changes, { name: { before: countryName }, iso_code: { before: "QY" } })
    })
  )

  it.effect("hotel.updated and room.updated carry the same before/after as the audit row, with id and hotel_id", () =>
    Effect.gen(function* () {
      const admin = yield* newUser("admin")
      const room = yield* insertRoom({ quantity: 1, price: 3000 })
      const events = (after: number) =>
        Effect.map(eventsAfter(after), (rows) => rows.map(({ data, type }) => ({ type, data })))
      const mark = yield* lastEvent
      const price = yield* onlyRow(
        raw("PATCH", `/hotels/${room.hotelId}/rooms/${room.id}`, { token: admin.token, body: { price: 3500 } })
      )
      ok(price.result)
      const hotel = yield* onlyRow(
        raw("PATCH", `/hotels/${room.hotelId}`, { token: admin.token, body: { postal_code: "101000" } })
      )
      ok(hotel.result)
      assert.deepStrictEqual(yield* events(mark), [
        {
          type: "room.updated",
          data: { id: room.id, hotel_id: room.hotelId, changes: { price: { before: 3000, after: 3500 } } }
        },
        {
          type: "hotel.updated",
          data: {
            id: room.hotelId,
            hotel_id: room.hotelId,
            changes: { postal_code: { before: null, after: "101000" } }
          }
        }
      ])
      assert.deepStrictEqual(price.row.changes, { price: { before: 3000, after: 3500 } })
    })
  )

  it.effect("a refused or rolled-back write leaves no row; only an admin's writes are recorded", () =>
    Effect.gen(function* () {
      const admin = yield* newUser("admin")
      const room = yield* insertRoom({ quantity: 1, price: 3000 })
      const mark = yield* lastAudit
      // refused before anything is written (unknown facility), and by the database (title taken: 409)
      const unknownFacility = yield* raw("PUT", `/hotels/${room.hotelId}/rooms/${room.id}`, {
        token: admin.token,
        body: { title: "X", price: 1, quantity: 1, facility_ids: [2_000_000_000] }
      })
      assert.strictEqual(unknownFacility.status, 404)
      // a write that is made, audited, and then rolled back with its transaction
      const trail = yield* AuditTrail
      const sql = yield* SqlClient.SqlClient
      const rolledBack = yield* trail
        .write(
          { action: "room.updated", entity: "room", id: room.id },
          Effect.zipRight(sql`UPDATE rooms SET price = 1 WHERE id = ${room.id}`, Effect.fail("abort" as const))
        )
        .pipe(
          sql.withTransaction,
          Effect.provideService(CurrentUser, {
            id: admin.id,
            email: admin.email,
            role: "admin",
            jti: "x",
            expiresAt: 0
          }),
          Effect.flip
        )
      assert.strictEqual(rolledBack, "abort")
      // a user's own account write is not an admin's: not recorded
      const user = yield* newUser()
      ok(yield* raw("PATCH", `/users/${user.id}`, { token: user.token, body: { first_name: "Иван" } }))
      assert.deepStrictEqual(yield* auditAfter(mark), [])
      const price = yield* sqlOf((sql) => sql<{ price: number }>`SELECT price FROM rooms WHERE id = ${room.id}`)
      assert.strictEqual(price[0]!.price, 3000)
      // audit_rows_total counts a row once its transaction commits: one rolled back after the write (the write
      // itself succeeded) is not counted, one committed is
      const counted = Effect.map(
        Effect.flatMap(HttpClient.HttpClient, (http) =>
          Effect.scoped(Effect.flatMap(http.get("/metrics"), (response) => response.text))
        ),
        (text) => Number(/^audit_rows_total\{action="room\.updated"\} (\d+)$/m.exec(text)?.[1] ?? 0)
      )
      const asAdmin = Effect.provideService(CurrentUser, {
        id: admin.id,
        email: admin.email,
        role: "admin",
        jti: "x",
        expiresAt: 0
      })
      const setPrice = (price: number) =>
        trail.write(
          { action: "room.updated", entity: "room", id: room.id },
          sql`UPDATE rooms SET price = ${price} WHERE id = ${room.id}`
        )
      const countedBefore = yield* counted
      const abandoned = yield* trail
        .transaction(Effect.zipRight(setPrice(2), Effect.fail("abort" as const)))
        .pipe(asAdmin, Effect.flip)
      assert.strictEqual(abandoned, "abort")
      assert.strictEqual(yield* counted, countedBefore)
      yield* trail.transaction(setPrice(3100)).pipe(asAdmin, Effect.orDie)
      assert.strictEqual(yield* counted, countedBefore + 1)
    })
  )

  it.effect("a room's admin writes while it is being booked: no deadlock, no 500, one row per change", () =>
    Effect.gen(function* () {
      const admin = yield* newUser("admin")
      const room = yield* insertRoom({ quantity: 50, price: 1000 })
      const guests = yield* Effect.all(Array.from({ length: 12 }, () => newUser()))
      const mark = yield* lastAudit
      const bookings = Effect.forEach(
        guests,
        (guest, i) =>
          raw("POST", "/bookings", {
            token: guest.token,
            body: { room_id: room.id, date_from: day(5 + (i % 3)), date_to: day(8 + (i % 3)) }
          }),
        { concurrency: "unbounded" }
      )
      const writes = Effect.forEach(
        [1100, 1200, 1300, 1400, 1500, 1600],
        (price, i) =>
          raw("PATCH", `/hotels/${room.hotelId}/rooms/${room.id}`, {
            token: admin.token,
            body: { price, quantity: 50 + i }
          }),
        { concurrency: 2 }
      )
      const [booked, written] = yield* Effect.all([bookings, writes], { concurrency: "unbounded" })
      for (const response of booked) assert.strictEqual(response.status, 200, JSON.stringify(response.body))
      for (const response of written) assert.strictEqual(response.status, 200, JSON.stringify(response.body))
      const rows = yield* auditAfter(mark)
      assert.strictEqual(rows.length, 6)
      assert.deepStrictEqual(
        rows.map((row) => row.changes["price"]!.after).sort(),
        [1100, 1200, 1300, 1400, 1500, 1600]
      )
    })
  )

  it.effect("users, webhooks and images: one row each; no password, hash or secret in any row", () =>
    Effect.gen(function* () {
      const admin = yield* newUser("admin")
      const user = yield* newUser()
      const password = "a-new-secret-password-1"
      const role = yield* onlyRow(raw("PATCH", `/users/${user.id}`, { token: admin.token, body: { role: "admin" } }))
      ok(role.result)
      assert.deepInclude(role.row, { action: "user.role_changed", entity: "user", entity_id: String(user.id) })
      assert.deepStrictEqual(role.row.changes, { role: { before: "user", after: "admin" } })
      const pass = yield* onlyRow(
        raw("PATCH", `/users/${user.id}`, { token: admin.token, body: { password, last_name: "Петров" } })
      )
      ok(pass.result)
      assert.deepStrictEqual(pass.row.changes, {
        password: { before: null, after: "[redacted]" },
        last_name: { before: null, after: "Петров" }
      })
      assert.strictEqual(pass.row.action, "user.updated")

      const hook = yield* onlyRow(
        raw("POST", "/webhooks", {
          token: admin.token,
          body: { url: "https://hooks.example.com/audit", events: ["hotel.*"] }
        })
      )
      const webhook = ok(hook.result, 201)
      const webhookId = webhook["id"] as number
      const secrets = [webhook["secret"] as string]
      assert.deepInclude(hook.row, { action: "webhook.created", entity: "webhook", entity_id: String(webhookId) })
      assert.deepInclude(hook.row.changes, {
        url: { after: "https://hooks.example.com/audit" },
        secret: { after: "[redacted]" }
      })
      const hookPatch = yield* onlyRow(
        raw("PATCH", `/webhooks/${webhookId}`, { token: admin.token, body: { description: "ops" } })
      )
      ok(hookPatch.result)
      assert.deepStrictEqual(hookPatch.row.changes, { description: { before: null, after: "ops" } })
      const rotated = yield* onlyRow(raw("POST", `/webhooks/${webhookId}/rotate-secret`, { token: admin.token }))
      secrets.push(ok(rotated.result)["secret"] as string)
      assert.strictEqual(rotated.row.action, "webhook.secret_rotated")
      assert.deepInclude(rotated.row.changes, {
        secret: { before: "[redacted]", after: "[redacted]" },
        previous_secret: { before: null, after: "[redacted]" }
      })
      const ping = yield* onlyRow(raw("POST", `/webhooks/${webhookId}/ping`, { token: admin.token }))
      const deliveryId = ok(ping.result, 202)["id"] as number
      assert.deepInclude(ping.row, { action: "webhook.pinged", entity_id: String(webhookId) })
      assert.deepStrictEqual(ping.row.changes["delivery_id"], { after: deliveryId })
      const again = yield* onlyRow(
        raw("POST", `/webhooks/${webhookId}/deliveries/${deliveryId}/redeliver`, { token: admin.token })
      )
      assert.deepStrictEqual(again.row.changes["redelivery_of"], { after: deliveryId })
      assert.strictEqual(again.row.action, "webhook.redelivered")
      assert.strictEqual(ok(again.result, 202)["id"], again.row.changes["delivery_id"]!.after)

      const room = yield* insertRoom({ quantity: 1 })
      const upload = yield* onlyRow(
        uploadAs(admin.token, room.hotelId, form(yield* Effect.promise(() => jpeg(1200, 800)), "lobby.jpg"))
      )
      assert.strictEqual(upload.result.status, 202, JSON.stringify(upload.result.json))
      const imageId = (upload.result.json as { image_id: number }).image_id
      assert.deepInclude(upload.row, { action: "image.uploaded", entity: "image", entity_id: String(imageId) })
      assert.deepInclude(upload.row.changes, { hotel_ids: { after: [room.hotelId] }, width: { after: 1200 } })
      const imageGone = yield* onlyRow(raw("DELETE", `/images/${imageId}`, { token: admin.token }))
      ok(imageGone.result)
      assert.strictEqual(imageGone.row.action, "image.deleted")

      const hookGone = yield* onlyRow(raw("DELETE", `/webhooks/${webhookId}`, { token: admin.token }))
      ok(hookGone.result)
      assert.strictEqual(hookGone.row.action, "webhook.deleted")
      const userGone = yield* onlyRow(raw("DELETE", `/users/${user.id}`, { token: admin.token }))
      ok(userGone.result)
      assert.deepInclude(userGone.row.changes, { password: { before: "[redacted]" }, role: { before: "admin" } })

      // no secret anywhere: the plain password and secrets, and the stored hashes and encrypted secrets
      const stored = yield* sqlOf(
        (sql) => sql<{ value: string }>`
          SELECT hashed_password AS value FROM users WHERE hashed_password IS NOT NULL
          UNION ALL SELECT secret FROM webhook_subscriptions UNION ALL
          SELECT previous_secret FROM webhook_subscriptions WHERE previous_secret IS NOT NULL`
      )
      const everything = yield* sqlOf((sql) =>
        sql<{ text: string }>`SELECT string_agg(changes::text, ' ') AS text FROM audit_log`.pipe(
          Effect.map((rows) => rows[0]!.text)
        )
      )
      for (const secret of [password, ...secrets, ...secrets.map((s) => s.slice("whsec_".length))])
        assert.notInclude(everything, secret)
      for (const { value } of stored) assert.notInclude(everything, value)
      assert.notInclude(everything, "$2b$")
      assert.notInclude(everything, "whsec_")
    })
  )

  it.effect("GET /audit: admin only; filters; bad parameters are 422s", () =>
    Effect.gen(function* () {
      const admin = yield* newUser("admin")
      const other = yield* newUser("admin")
      const user = yield* newUser()
      const facility = ok(
        yield* raw("POST", "/facilities", { token: admin.token, body: { title: randomName("Сейф ") } })
      )
      const id = facility["id"] as number
      ok(yield* raw("DELETE", `/facilities/${id}`, { token: other.token }))

      assert.strictEqual((yield* raw("GET", "/audit")).status, 401)
      assert.strictEqual((yield* raw("GET", "/audit", { token: user.token })).status, 403)

      const list = (query: string) =>
        Effect.map(raw("GET", `/audit?${query}`, { token: admin.token }), (r) => {
          const page = ok(r) as unknown as { items: Array<AuditRow>; next_cursor: string | null }
          return page.items.map((item) => [item.action, item.actor_id])
        })
      assert.deepStrictEqual(yield* list(`entity=facility&entity_id=${id}`), [
        ["facility.deleted", other.id],
        ["facility.created", admin.id]
      ])
      assert.deepStrictEqual(yield* list(`actor_id=${other.id}`), [["facility.deleted", other.id]])
      const deleted = yield* list(`action=facility.deleted&entity=facility&entity_id=${id}`)
      assert.deepStrictEqual(deleted, [["facility.deleted", other.id]])
      assert.deepStrictEqual(yield* list(`entity=facility&entity_id=${id}&to=2000-01-01T00:00:00Z`), [])
      assert.strictEqual((yield* list(`entity=facility&entity_id=${id}&from=2000-01-01T00:00:00%2B03:00`)).length, 2)
      assert.deepStrictEqual(yield* list(`entity=facility&entity_id=${id}&from=9999-12-31T00:00:00Z`), [])
      // a leap day is a day
      assert.deepStrictEqual(yield* list(`entity=facility&entity_id=${id}&from=2400-02-29T00:00:00Z`), [])

      for (const bad of [
        "limit=0",
        "limit=101",
        "cursor=abc",
        `cursor=${Buffer.from("audit:-1").toString("base64url")}`,
        "from=yesterday",
        "to=0000-01-01T00:00:00Z",
        "from=2026-13-01T00:00:00Z",
        // not a calendar day or time (Date.parse would roll 02-31 over to March 3)
        "from=2026-02-31T00:00:00Z",
        "to=2026-02-29T00:00:00Z",
        "from=2026-04-31T00:00:00Z",
        "from=2026-01-01T24:00:00Z",
        "from=2026-01-01T00:60:00Z",
        "from=2026-01-01T00:00:00%2B24:00",
        // within years 0001..9999 as written, outside them in UTC (PostgreSQL would refuse the UTC form)
        "from=0001-01-01T00:30:00%2B01:00",
        "to=9999-12-31T23:30:00-01:00",
        "entity=booking",
        "entity_id=7",
        "actor_id=2147483648",
        "action=DROP%20TABLE"
      ]) {
        const response = yield* raw("GET", `/audit?${bad}`, { token: admin.token })
        assert.strictEqual(response.status, 422, `${bad}: ${JSON.stringify(response.body)}`)
      }
    })
  )

  it.effect("GET /audit: every combination of entity, actor_id and action is served by an index in id order", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const filters = {
        entity: "entity = 'room'",
        actor_id: "actor_id = 1",
        action: "action = 'room.updated'"
      } as const
      const names = Object.keys(filters) as Array<keyof typeof filters>
      const combinations = Array.from({ length: 1 << names.length }, (_, mask) =>
        names.filter((_, i) => (mask & (1 << i)) !== 0)
      ).filter((combination) => combination.length > 0)
      for (const combination of combinations) {
        // the plan the page's query gets when scanning the table is not an option (a small test table would
        // otherwise be read whole): an index giving the rows in id order, every filter in its condition
        const where = [...combination.map((name) => filters[name]), "id < 1000000"].join(" AND ")
        const plan = yield* sql
          .unsafe<{ "QUERY PLAN": unknown }>(
            `EXPLAIN (FORMAT JSON) SELECT id FROM audit_log WHERE ${where} ORDER BY id DESC LIMIT 21`
          )
          .pipe(
            (query) =>
              Effect.zipRight(
                sql`SELECT set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true),
                           set_config('enable_bitmapscan', 'off', true)`,
                query
              ),
            sql.withTransaction,
            Effect.orDie
          )
        const text = JSON.stringify(plan[0]!["QUERY PLAN"])
        assert.notInclude(text, '"Sort"', `${combination.join("+")}: ${text}`)
        assert.notInclude(text, "Seq Scan", `${combination.join("+")}: ${text}`)
        const scan = /"Index Name":"([a-z_]+)".*?"Index Cond":"([^"]*)"/.exec(text)
        assert.isNotNull(scan, `${combination.join("+")}: ${text}`)
        for (const name of combination) assert.include(scan![2], name, `${combination.join("+")}: ${text}`)
        assert.notMatch(text, /"Filter":"[^"]*(entity|actor_id|action)/, `${combination.join("+")}: ${text}`)
      }
    })
  )

  it.effect("GET /audit: a query that would cost more than its budget is a clear 422, not a 500 nor a wait", () =>
    Effect.gen(function* () {
      const admin = yield* newUser("admin")
      // the table held by another transaction: the page's query waits, and its budget (statement_timeout,
      // lock waits included) runs out deterministically, as a walk over millions of rows would
      const locked = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(
        sqlOf((sql) =>
          sql`LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE`.pipe(
            Effect.zipRight(Deferred.succeed(locked, undefined)),
            Effect.zipRight(Deferred.await(release)),
            sql.withTransaction
          )
        )
      )
      yield* Deferred.await(locked)
      const started = Date.now()
      const response = yield* raw("GET", "/audit?action=hotel.updated&entity=room", { token: admin.token })
      const elapsed = Date.now() - started
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      assert.strictEqual(response.status, 422, JSON.stringify(response.body))
      const detail = (response.body as { detail: Array<{ type: string; loc: Array<string>; msg: string }> }).detail
      assert.deepStrictEqual(
        detail.map((issue) => [issue.type, issue.loc]),
        [["query_too_broad", ["query"]]]
      )
      assert.include(detail[0]!.msg, `${AUDIT_QUERY_BUDGET_MS} ms`)
      assert.isAtLeast(elapsed, AUDIT_QUERY_BUDGET_MS - 50)
      assert.isBelow(elapsed, AUDIT_QUERY_BUDGET_MS + 2000)
      // the budget is per query: the same request answers once the table is free
      ok(yield* raw("GET", "/audit?action=hotel.updated&entity=room", { token: admin.token }))
    })
  )

  it.effect("the cursor walks every row exactly once, newest first, while rows are being written", () =>
    Effect.gen(function* () {
      const admin = yield* newUser("admin")
      const action = `test.walk_${randomName("").replace(/[^a-z]/g, "")}`
      const insert = (n: number) =>
        sqlOf(
          (sql) => sql`INSERT INTO audit_log (action, entity, entity_id, changes)
          SELECT ${action}, 'hotel', g::text, '{}'::jsonb FROM generate_series(1, ${n}) g`
        )
      yield* insert(53)
      const before = yield* sqlOf((sql) =>
        sql<{ id: number }>`SELECT id::float8 AS id FROM audit_log WHERE action = ${action} ORDER BY id DESC`.pipe(
          Effect.map((rows) => rows.map((row) => row.id))
        )
      )
      const writer = yield* Effect.fork(Effect.repeatN(insert(3), 30))
      const seen: Array<number> = []
      let cursor: string | null = null
      do {
        const query: string = `action=${action}&limit=7${cursor === null ? "" : `&cursor=${cursor}`}`
        const page = ok(yield* raw("GET", `/audit?${query}`, { token: admin.token })) as unknown as {
          items: Array<{ id: number }>
          next_cursor: string | null
        }
        assert.isAtMost(page.items.length, 7)
        seen.push(...page.items.map((item) => item.id))
        cursor = page.next_cursor
      } while (cursor !== null)
      yield* Fiber.join(writer)
      assert.strictEqual(new Set(seen).size, seen.length, "no row twice")
      assert.deepStrictEqual(
        seen,
        [...seen].sort((a, b) => b - a)
      )
      // every row that was there when the walk began, once; rows written meanwhile only above its start
      assert.deepStrictEqual(
        seen.filter((id) => id <= before[0]!),
        before
      )
    })
  )

  it.effect("audit_log stays append-only: UPDATE, DELETE and TRUNCATE are refused", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO audit_log (action, entity) VALUES ('test.append_only', 'hotel')`
      for (const statement of [
        sql`UPDATE audit_log SET action = 'x' WHERE action = 'test.append_only'`,
        sql`DELETE FROM audit_log WHERE action = 'test.append_only'`,
        sql`TRUNCATE audit_log`
      ]) {
        const error = yield* Effect.flip(statement)
        assert.include(String(error.cause), "append-only")
      }
    })
  )
})

layer(
  makeTestServer({
    AUDIT_SIGN_IN_BURST_THRESHOLD: "3",
    AUDIT_SIGN_IN_BURST_WINDOW_SECONDS: "600",
    ENABLE_METRICS_IN_TESTS: "true"
  }),
  {
    excludeTestServices: true,
    timeout: "60 seconds"
  }
)("sign-in failure bursts", (it) => {
  it.effect("one row per burst and window, for an e-mail and for a client address; none per failure", () =>
    Effect.gen(function* () {
      const email = `${randomName("victim")}@example.com`
      const login = (address: string, who = email) =>
        raw("POST", "/auth/login", {
          body: { email: who, password: "wrong-password-1" },
          headers: { "x-forwarded-for": address }
        })
      const mark = yield* lastAudit
      // the test client connects over loopback, a trusted proxy by default: the forwarded address is believed
      for (let i = 0; i < 7; i++) assert.strictEqual((yield* login("203.0.113.7", email.toUpperCase())).status, 401)
      const first = yield* auditAfter(mark)
      assert.strictEqual(first.length, 1, JSON.stringify(first))
      assert.deepStrictEqual(
        { ...first[0]!, id: 0 },
        {
          id: 0,
          actor_id: null,
          actor_email: null,
          action: "auth.sign_in_failed_burst",
          entity: "sign_in",
          entity_id: email,
          changes: {
            count: { after: 3 },
            by: { after: ["email", "client_address"] },
            email: { after: email },
            client_address: { after: "203.0.113.7" },
            window_seconds: { after: 600 }
          },
          request_id: first[0]!.request_id
        }
      )
      assert.isString(first[0]!.request_id)
      // the same address trying other e-mails is past its threshold already: a new e-mail's burst only
      for (let i = 0; i < 4; i++)
        assert.strictEqual((yield* login("203.0.113.7", `${randomName("other")}@example.com`)).status, 401)
      assert.strictEqual((yield* auditAfter(mark)).length, 1)
      // another address spraying one e-mail: its own burst, once
      const sprayed = `${randomName("sprayed")}@example.com`
      for (let i = 0; i < 5; i++) assert.strictEqual((yield* login(`198.51.100.${i + 1}`, sprayed)).status, 401)
      const rows = yield* auditAfter(mark)
      assert.deepStrictEqual(
        rows.map((row) => [row.entity_id, row.changes["by"]!.after]),
        [
          [email, ["email", "client_address"]],
          [sprayed, ["email"]]
        ]
      )
      // the rows written, by action (docs/decisions.md D17)
      const http = yield* HttpClient.HttpClient
      const metrics = yield* Effect.flatMap(http.get("/metrics"), (response) => response.text).pipe(Effect.scoped)
      assert.include(metrics, 'audit_rows_total{action="auth.sign_in_failed_burst"} 2')
    })
  )
})

/**
 * Fixtures for the bookings tests: rooms written with plain SQL, users signed in by minting their access
 * token directly (no bcrypt: the concurrency tests need dozens of users), dates relative to today (UTC),
 * and the inventory check every scenario ends with.
 */
import { HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { assert } from "@effect/vitest"
import { DateString } from "@shum/domain/Common"
import type { Role } from "@shum/domain/Users"
import { randomName } from "@shum/infra/Testing"
import { DateTime, Effect } from "effect"
import { Tokens } from "../src/Auth/Tokens.js"
import { inventoryProblems } from "../src/Testing.js"
import { UsersRepo } from "../src/Users/UsersRepo.js"
import { clientWithToken, uniqueEmail } from "./support.js"

let isoCounter = 0
const nextIso = () => (isoCounter++ % 1296).toString(36).padStart(2, "0").toUpperCase()

/** A room type (in a hotel of its own) with this quantity and nightly price. */
export const insertRoom = (fields: { readonly quantity: number; readonly price?: number }) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [country] = yield* sql<{ id: number }>`
      INSERT INTO countries (name, iso_code) VALUES (${randomName("Страна-")}, ${nextIso()}) RETURNING id`
    const [city] = yield* sql<{ id: number }>`
      INSERT INTO cities (name, country_id) VALUES (${randomName("Город-")}, ${country!.id}) RETURNING id`
    const [hotel] = yield* sql<{ id: number }>`
      INSERT INTO hotels (title, city_id, address) VALUES (${randomName("Отель-")}, ${city!.id}, 'ул. Тестовая, 1')
      RETURNING id`
    const [room] = yield* sql<{ id: number }>`
      INSERT INTO rooms (hotel_id, title, price, quantity)
      VALUES (${hotel!.id}, ${randomName("Номер-")}, ${fields.price ?? 1000}, ${fields.quantity}) RETURNING id`
    return { id: room!.id, hotelId: hotel!.id, cityId: city!.id }
  }).pipe(Effect.orDie)

/** A user with a valid access token, without the cost of a password. */
export const newUser = (role: Role = "user") =>
  Effect.gen(function* () {
    const users = yield* UsersRepo
    const tokens = yield* Tokens
    const email = uniqueEmail(role)
    const row = yield* users.insert({ email, role })
    const { token } = yield* tokens.issueAccess({ id: row.id, email })
    return { id: row.id, email, role, token, api: yield* clientWithToken(token) }
  })

/** `YYYY-MM-DD`, `days` after today (UTC). */
export const day = (days: number): DateString =>
  DateString.make(DateTime.formatIsoDateUtc(DateTime.add(DateTime.unsafeNow(), { days })))

/** A raw request with a bearer token, for status codes and headers the typed client does not expose. */
export const raw = (
  method: "GET" | "POST" | "DELETE" | "PATCH" | "PUT",
  path: string,
  options: { readonly token?: string; readonly body?: unknown; readonly headers?: Record<string, string> } = {}
) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    let request = HttpClientRequest.make(method)(path).pipe(HttpClientRequest.setHeaders(options.headers ?? {}))
    if (options.token !== undefined) request = HttpClientRequest.bearerToken(request, options.token)
    if (options.body !== undefined) request = HttpClientRequest.bodyUnsafeJson(request, options.body)
    const response: HttpClientResponse.HttpClientResponse = yield* http.execute(request)
    const text = yield* response.text
    return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as unknown) }
  }).pipe(Effect.scoped, Effect.orDie)

/** The confirmed bookings of a room (a cancelled one is kept, docs/data.md BR-14). */
export const countBookings = (roomId: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: number }>`SELECT count(*)::int AS n FROM bookings WHERE room_id = ${roomId} AND status = 'confirmed'`.pipe(
      Effect.map((rows) => rows[0]!.n)
    )
  ).pipe(Effect.orDie)

/** The inventory agrees with the bookings, everywhere in the database. */
export const assertInventoryClean = inventoryProblems.pipe(
  Effect.orDie,
  Effect.map((problems) => assert.deepStrictEqual(problems, []))
)

/** Units sold per night of a room, from the inventory, for nights that have a row. */
export const soldByNight = (roomId: number) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<{ night: string; sold: number; capacity: number }>`
      SELECT night, sold, capacity FROM room_nights WHERE room_id = ${roomId} ORDER BY night`
  ).pipe(Effect.orDie)

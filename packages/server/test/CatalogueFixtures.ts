/**
 * Rows for the catalogue tests, written with plain SQL (independent of the code under test), each with a
 * unique name so tests sharing one server never depend on each other; plus the three kinds of caller.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { randomName } from "@shum/infra/Testing"
import { Effect } from "effect"
import { client, clientWithToken, signIn } from "./support.js"

let isoCounter = 0
/** Unique two-character codes made of digits; tests that choose their own codes use letters. */
export const nextIso = () => {
  const n = isoCounter++
  return `${Math.floor(n / 10) % 10}${n % 10}`
}

const one = <A>(rows: ReadonlyArray<A>): A => rows[0]!

export const insertCountry = (name = randomName("Страна-")) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ id: number }>`INSERT INTO countries (name, iso_code) VALUES (${name}, ${nextIso()}) RETURNING id`.pipe(
      Effect.map((rows) => ({ id: one(rows).id, name }))
    )
  ).pipe(Effect.orDie)

export const insertCity = (countryId?: number, name = randomName("Город-")) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const country = countryId ?? (yield* insertCountry()).id
    const rows = yield* sql<{
      id: number
    }>`INSERT INTO cities (name, country_id) VALUES (${name}, ${country}) RETURNING id`
    return { id: one(rows).id, name, countryId: country }
  }).pipe(Effect.orDie)

export const insertHotel = (cityId?: number, title = randomName("Отель-")) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const city = cityId ?? (yield* insertCity()).id
    const rows = yield* sql<{ id: number }>`
      INSERT INTO hotels (title, city_id, address, postal_code) VALUES (${title}, ${city}, 'ул. Тестовая, 1', '101000')
      RETURNING id`
    return { id: one(rows).id, title, cityId: city }
  }).pipe(Effect.orDie)

export const insertFacility = (title = randomName("Удобство-")) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ id: number }>`INSERT INTO facilities (title) VALUES (${title}) RETURNING id`.pipe(
      Effect.map((rows) => ({ id: one(rows).id, title }))
    )
  ).pipe(Effect.orDie)

export const insertRoom = (
  hotelId: number,
  fields: { title?: string; price?: number; quantity?: number; facilityIds?: ReadonlyArray<number> } = {}
) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const title = fields.title ?? randomName("Номер-")
    const rows = yield* sql<{ id: number }>`
      INSERT INTO rooms (hotel_id, title, description, price, quantity)
      VALUES (${hotelId}, ${title}, 'описание', ${fields.price ?? 1000}, ${fields.quantity ?? 2}) RETURNING id`
    const id = one(rows).id
    for (const facilityId of fields.facilityIds ?? []) {
      yield* sql`INSERT INTO rooms_facilities (room_id, facility_id) VALUES (${id}, ${facilityId})`
    }
    return { id, title }
  }).pipe(Effect.orDie)

export const insertUser = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ id: number }>`INSERT INTO users (email) VALUES (${`${randomName("guest")}@example.com`}) RETURNING id`.pipe(
    Effect.map((rows) => one(rows).id)
  )
).pipe(Effect.orDie)

/** A booking straight into the table (the bookings API is another issue's). */
export const insertBooking = (roomId: number, dateFrom: string, dateTo: string, userId?: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const user = userId ?? (yield* insertUser)
    const rows = yield* sql<{ id: number }>`
      INSERT INTO bookings (room_id, user_id, date_from, date_to, price)
      VALUES (${roomId}, ${user}, ${dateFrom}, ${dateTo}, 1000) RETURNING id`
    return one(rows).id
  }).pipe(Effect.orDie)

export const countRows = (table: string, where: string, value: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.unsafe<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where} = $1`, [value])
  ).pipe(
    Effect.map((rows) => one(rows).n),
    Effect.orDie
  )

const tokens = new Map<"user" | "admin", string>()
const tokenOf = (role: "user" | "admin") =>
  Effect.gen(function* () {
    const known = tokens.get(role)
    if (known !== undefined) return known
    const { token } = yield* signIn(role)
    tokens.set(role, token)
    return token
  })

/** Typed clients as anonymous, as a plain user and as an admin (one sign-in per role and test file). */
export const callers = Effect.gen(function* () {
  return {
    anonymous: yield* client,
    user: yield* clientWithToken(yield* tokenOf("user")),
    admin: yield* clientWithToken(yield* tokenOf("admin"))
  }
})

export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
  readonly json: unknown
}

/** A raw request (what the typed client would refuse to send, or to read headers), as admin when asked. */
export const raw = (
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
  url: string,
  options: { readonly body?: unknown; readonly admin?: boolean; readonly headers?: Record<string, string> } = {}
) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    let request = HttpClientRequest.make(method)(url).pipe(HttpClientRequest.setHeaders(options.headers ?? {}))
    if (options.body !== undefined) request = HttpClientRequest.bodyUnsafeJson(request, options.body)
    if (options.admin === true) request = HttpClientRequest.bearerToken(request, yield* tokenOf("admin"))
    const response = yield* http.execute(request)
    const text = yield* response.text
    return {
      status: response.status,
      headers: response.headers,
      text,
      json: text === "" ? undefined : (JSON.parse(text) as unknown)
    } satisfies RawResponse
  }).pipe(Effect.orDie)

export const detail = (response: RawResponse) => (response.json as { detail?: unknown } | undefined)?.detail

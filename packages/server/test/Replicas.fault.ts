/**
 * Two server replicas (two processes) on one real PostgreSQL and one Redis, a booking storm on one room
 * type split between them (D2): exactly `quantity` bookings succeed, every other request is a 409 with the
 * sold-out message, nothing else (no 500, no 503); the bookings table and the per-night inventory agree.
 */
import { databaseUrl, randomName, REDIS_URL, withPgClient } from "@shum/infra/Testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort, type Proc, startServerProcess, waitReady } from "./FaultSupport.js"
import { TEST_SECRET } from "./support.js"

const SOLD_OUT = "Все номера данного типа уже забронированы на указанные даты"
const QUANTITY = 3
const USERS = 6
const REQUESTS_PER_USER = 8 // 48 requests for 3 units

const database = randomName("shum_fault_")

const servers: Array<{ proc: Proc; base: string }> = []

beforeAll(async () => {
  await withPgClient(databaseUrl("postgres"), (c) => c.query(`CREATE DATABASE ${database}`))
  // one after the other: migrations are the deploy's job, ahead of the replicas (K3s: a Job)
  for (let i = 0; i < 2; i++) {
    const port = await freePort()
    const proc = startServerProcess({
      APP_ENV: "test",
      JWT_SECRET_KEY: TEST_SECRET,
      DATABASE_URL: databaseUrl(database),
      REDIS_URL,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "WARNING"
    })
    const base = `http://127.0.0.1:${port}`
    servers.push({ proc, base })
    await waitReady(proc, base)
  }
})

afterAll(async () => {
  for (const { proc } of servers) {
    proc.signal("SIGTERM")
    await proc.exited
  }
  await withPgClient(databaseUrl("postgres"), (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
})

const post = async (url: string, body: unknown, token?: string) => {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
    },
    body: JSON.stringify(body)
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

const isoDay = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10)

describe("two replicas, one database", () => {
  it(`a booking storm on one room type: exactly ${QUANTITY} succeed, the rest 409, inventory consistent`, async () => {
    const roomId = await withPgClient(databaseUrl(database), async (c) => {
      const country = await c.query(`INSERT INTO countries (name, iso_code) VALUES ('Шторм', 'ZZ') RETURNING id`)
      const city = await c.query(`INSERT INTO cities (name, country_id) VALUES ('Штормград', $1) RETURNING id`, [
        country.rows[0].id
      ])
      const hotel = await c.query(
        `INSERT INTO hotels (title, city_id, address) VALUES ('Отель Шторм', $1, 'ул. Ветреная, 1') RETURNING id`,
        [city.rows[0].id]
      )
      const room = await c.query(
        `INSERT INTO rooms (hotel_id, title, price, quantity) VALUES ($1, 'Люкс', 5000, $2) RETURNING id`,
        [hotel.rows[0].id, QUANTITY]
      )
      return room.rows[0].id as number
    })

    // users registered and signed in on either replica: tokens work on both (one secret, one database)
    const tokens = await Promise.all(
      Array.from({ length: USERS }, async (_, i) => {
        const credentials = { email: `storm-${i}-${randomName("")}@example.com`, password: "storm-password-1" }
        const { base } = servers[i % 2]!
        expect((await post(`${base}/auth/register`, credentials)).status).toBe(201)
        const login = await post(`${servers[(i + 1) % 2]!.base}/auth/login`, credentials)
        expect(login.status).toBe(200)
        return login.body["access_token"] as string
      })
    )

    const stay = { room_id: roomId, date_from: isoDay(20), date_to: isoDay(23) }
    const answers = await Promise.all(
      tokens.flatMap((token, u) =>
        Array.from({ length: REQUESTS_PER_USER }, (_, r) => post(`${servers[(u + r) % 2]!.base}/bookings`, stay, token))
      )
    )
    const statuses = answers.map((a) => a.status)
    expect(statuses.filter((s) => s === 200).length, JSON.stringify(statuses)).toBe(QUANTITY)
    expect(statuses.filter((s) => s === 409).length).toBe(USERS * REQUESTS_PER_USER - QUANTITY)
    expect(answers.filter((a) => a.status === 409).every((a) => a.body["detail"] === SOLD_OUT)).toBe(true)

    await withPgClient(databaseUrl(database), async (c) => {
      const bookings = await c.query(`SELECT count(*)::int AS n FROM bookings WHERE room_id = $1`, [roomId])
      expect(bookings.rows[0].n).toBe(QUANTITY)
      const nights = await c.query(
        `SELECT night::text, sold, capacity FROM room_nights WHERE room_id = $1 ORDER BY night`,
        [roomId]
      )
      expect(nights.rows).toEqual([20, 21, 22].map((d) => ({ night: isoDay(d), sold: QUANTITY, capacity: QUANTITY })))
    })
    for (const { proc } of servers) expect(proc.running).toBe(true)
  })
})

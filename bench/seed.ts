/**
 * The benchmark's fixed dataset, written through SQL into an already migrated database:
 * 3 countries, 20 cities, 500 hotels (25 per city), 12 facilities, 5,000 rooms (10 per hotel, each
 * with 4 facilities, 1–10 units; room 1 is the "hot" room type with a large quantity), 1,000 users
 * sharing one bcrypt hash (hashed once, cost 12 as in production), and 20,000 bookings over the next
 * 90 days, 4 per room and never overlapping within a room, inserted in one statement so the inventory
 * triggers build `room_nights` exactly as the service would.
 */
import { hash } from "@node-rs/bcrypt"
import { SignJWT } from "jose"
import { randomUUID } from "node:crypto"
import type pg from "pg"

export const HOTELS = 500
export const ROOMS = 5_000
export const USERS = 1_000
export const BOOKINGS = 20_000
/** The flash-sale room type: enough units that every request of the hot scenario can succeed. */
export const HOT_ROOM_ID = 1
export const HOT_ROOM_QUANTITY = 1_000_000
export const PASSWORD = "bench-password-1"

export const CITIES = [
  ["Москва", 1],
  ["Санкт-Петербург", 1],
  ["Казань", 1],
  ["Новосибирск", 1],
  ["Екатеринбург", 1],
  ["Нижний Новгород", 1],
  ["Сочи", 1],
  ["Калининград", 1],
  ["Владивосток", 1],
  ["Ярославль", 1],
  ["Алматы", 2],
  ["Астана", 2],
  ["Шымкент", 2],
  ["Караганда", 2],
  ["Актау", 2],
  ["Минск", 3],
  ["Брест", 3],
  ["Гродно", 3],
  ["Гомель", 3],
  ["Витебск", 3]
] as const

const FACILITIES = [
  "Wi-Fi",
  "Кондиционер",
  "Мини-бар",
  "Сейф",
  "Телевизор",
  "Фен",
  "Балкон",
  "Ванна",
  "Кофемашина",
  "Вид на море",
  "Рабочий стол",
  "Завтрак"
]

export const userEmail = (i: number) => `bench-user-${i}@example.com`

/** A draw in `0..n-1`: `npm run bench`'s own seeded generator (`run.ts`), or `Math.random`'s (`ab.ts`). */
export type Random = (n: number) => number

/**
 * A small deterministic generator (xorshift), the same sequence on every call of `seededRandom()`: so every run
 * of `run.ts` replays the same requests, and `catalogueCache.ts` replays `run.ts`'s.
 */
export const seededRandom = (): Random => {
  let state = 0x2545f491
  return (n) => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) % n
  }
}

/** An access token for each seeded user (`i`-th: user `i + 1`), signed with `secret` as the server's, valid 4 h. */
export const userTokens = (secret: string): Promise<Array<string>> => {
  const key = new TextEncoder().encode(secret)
  const iat = Math.floor(Date.now() / 1000)
  return Promise.all(
    Array.from({ length: USERS }, (_, i) =>
      new SignJWT({ email: userEmail(i + 1) })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(String(i + 1))
        .setIssuedAt(iat)
        .setExpirationTime(iat + 4 * 3600)
        .setJti(randomUUID())
        .sign(key)
    )
  )
}

/** Three letters of a random city's name, lower-cased: the `city` filter's fragment of `hotels-20`. */
export const cityFragment = (random: Random) => {
  const name = CITIES[random(CITIES.length)]![0].toLowerCase()
  const start = random(Math.max(1, name.length - 3))
  return name.slice(start, start + 3)
}

/**
 * `npm run bench`'s `hotels-20` (`GET /hotels` filtered and sorted, 20 a page): the `i`-th request's query
 * string — the one definition `run.ts`, `ab.ts` and `catalogueCache.ts` use, so their scenarios cannot drift.
 */
export const hotelsFiltered20Query = (i: number, random: Random) => {
  const pick = <A>(items: ReadonlyArray<A>) => items[random(items.length)]!
  const params = new URLSearchParams()
  switch (i % 4) {
    case 0:
      params.set("city", cityFragment(random))
      params.set("sort_by", "title")
      break
    case 1:
      params.set("city_id", String(1 + random(CITIES.length)))
      params.set("order", "desc")
      break
    case 2:
      params.set("title", pick(["империал", "волна", "парк", "гранд", "№1", "берег"]))
      params.set("sort_by", "city")
      break
    default:
      params.set("city", cityFragment(random))
      params.set("title", pick(["отель", "«", "№"]))
  }
  params.set("page", String(1 + random(2)))
  params.set("per_page", "20")
  return params.toString()
}

export const seed = async (client: pg.Client) => {
  const passwordHash = await hash(PASSWORD, { cost: 12, version: "2b" })
  await client.query("BEGIN")
  await client.query(
    `INSERT INTO countries (name, iso_code) VALUES ('Россия', 'RU'), ('Казахстан', 'KZ'), ('Беларусь', 'BY')`
  )
  await client.query(`INSERT INTO cities (name, country_id) SELECT * FROM unnest($1::text[], $2::int[])`, [
    CITIES.map(([name]) => name),
    CITIES.map(([, country]) => country)
  ])
  await client.query(
    `INSERT INTO hotels (title, city_id, address, postal_code, check_in_time, check_out_time)
     SELECT 'Отель «' || (ARRAY['Империал','Волна','Северный','Гранд','Парк','Уют','Берег','Центральный'])[1 + i % 8]
              || '» №' || i,
            1 + (i - 1) % 20, 'ул. Ленина, ' || i, lpad((100000 + i)::text, 6, '0'),
            '14:00', '12:00'
     FROM generate_series(1, ${HOTELS}) AS i`
  )
  await client.query(`INSERT INTO facilities (title) SELECT unnest($1::text[])`, [FACILITIES])
  await client.query(
    `INSERT INTO rooms (hotel_id, title, description, price, quantity)
     SELECT 1 + (i - 1) / 10,
            (ARRAY['Стандарт','Улучшенный','Семейный','Люкс','Апартаменты'])[1 + i % 5] || ' ' || i,
            CASE WHEN i % 3 = 0 THEN NULL ELSE 'Номер с видом во двор, ' || (10 + i % 40) || ' м²' END,
            2000 + (i * 37) % 8000,
            CASE WHEN i = ${HOT_ROOM_ID} THEN ${HOT_ROOM_QUANTITY} ELSE 1 + i % 10 END
     FROM generate_series(1, ${ROOMS}) AS i`
  )
  await client.query(
    `INSERT INTO rooms_facilities (room_id, facility_id)
     SELECT r, f FROM generate_series(1, ${ROOMS}) AS r, generate_series(1, ${FACILITIES.length}) AS f
     WHERE (r + f) % 3 = 0`
  )
  await client.query(
    `INSERT INTO users (email, hashed_password, first_name, last_name)
     SELECT 'bench-user-' || i || '@example.com', $1, 'Гость', 'Номер ' || i FROM generate_series(1, ${USERS}) AS i`,
    [passwordHash]
  )
  // 4 stays per room in 4 windows of 22 days (days 1..87 from today): never overlapping within a room,
  // so no night exceeds the room's quantity; one statement, so the triggers fill room_nights once
  await client.query(
    `INSERT INTO bookings (room_id, user_id, date_from, date_to, price)
     SELECT r.id, 1 + (r.id * 4 + k) % ${USERS}, s.date_from, s.date_from + s.nights, r.price * s.nights
     FROM rooms r CROSS JOIN generate_series(0, 3) AS k
     CROSS JOIN LATERAL (
       SELECT (now() AT TIME ZONE 'UTC')::date + 1 + k * 22 + (r.id * 7 + k * 5) % 15 AS date_from,
              1 + (r.id + k) % 6 AS nights
     ) s`
  )
  await client.query("COMMIT")
  await client.query("ANALYZE")
  const [counts] = (
    await client.query(`SELECT (SELECT count(*) FROM hotels)::int AS hotels, (SELECT count(*) FROM rooms)::int AS rooms,
      (SELECT count(*) FROM bookings)::int AS bookings, (SELECT count(*) FROM users)::int AS users,
      (SELECT count(*) FROM room_nights)::int AS room_nights`)
  ).rows
  return counts as { hotels: number; rooms: number; bookings: number; users: number; room_nights: number }
}

/**
 * Booking benchmark (issue 5, D2): the real server and PostgreSQL, concurrent `POST /bookings` at
 * 1. one hot room type (a flash sale: everyone wants the same nights of one room),
 * 2. many room types (random rooms and stays),
 * then the flash sale again straight at the booking service (the database path alone, no HTTP), without and
 * with an `Idempotency-Key`, and the
 * availability count for a page of rooms. Prints bookings/s, p50/p99 latency and the overbooking
 * count (nights above quantity, and inventory rows disagreeing with the bookings) — which must be 0.
 *
 *   npx tsx --conditions=@shum/source bench/bookings.ts
 *
 * Needs the PostgreSQL of the tests (TEST_DATABASE_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres);
 * it creates a database of its own and drops it. Knobs: BENCH_POOL (connections, 20), BENCH_CONCURRENCY (64),
 * BENCH_HOT_REQUESTS (2000), BENCH_HOT_QUANTITY (1000), BENCH_ROOMS (200), BENCH_MANY_REQUESTS (4000).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as SqlClient from "@effect/sql/SqlClient"
import { DateString } from "@shum/domain/Common"
import { Availability, AvailabilityLive, inventoryProblems } from "@shum/server/Testing"
import { newSession } from "@shum/server/Auth/DeferredSession"
import { BookingsService } from "@shum/server/Bookings/BookingsService"
import { Array, Effect, Random } from "effect"
import { day, inProcessServer, knob, percentile, seedCity, seedUsers } from "./inProcessServer.js"

const POOL = knob("BENCH_POOL", 20)
const CONCURRENCY = knob("BENCH_CONCURRENCY", 64)
const HOT_REQUESTS = knob("BENCH_HOT_REQUESTS", 2000)
const HOT_QUANTITY = knob("BENCH_HOT_QUANTITY", 1000)
const ROOMS = knob("BENCH_ROOMS", 200)
const MANY_REQUESTS = knob("BENCH_MANY_REQUESTS", 4000)
const USERS = 200

const Server = inProcessServer(POOL, AvailabilityLive)

const seed = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* seedCity
  yield* sql`
    INSERT INTO hotels (title, city_id, address)
    SELECT 'Отель ' || i, 1, 'ул. Тестовая, ' || i FROM generate_series(1, ${ROOMS + 1}) AS i`
  const hot = yield* sql<{ id: number }>`
    INSERT INTO rooms (hotel_id, title, price, quantity) VALUES (1, 'Горячий', 3000, ${HOT_QUANTITY}) RETURNING id`
  const many = yield* sql<{ id: number }>`
    INSERT INTO rooms (hotel_id, title, price, quantity)
    SELECT i + 1, 'Номер ' || i, 1000, 5 FROM generate_series(1, ${ROOMS}) AS i RETURNING id`
  const { tokens } = yield* seedUsers(USERS)
  return { hot: hot[0]!.id, many: many.map((r) => r.id), tokens }
})

interface Outcome {
  readonly status: number
  readonly ms: number
}

const fire = (requests: ReadonlyArray<{ readonly token: string; readonly body: unknown }>) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const one = (request: { readonly token: string; readonly body: unknown }) =>
      Effect.gen(function* () {
        const started = performance.now()
        const response = yield* http.execute(
          HttpClientRequest.post("/bookings").pipe(
            HttpClientRequest.bearerToken(request.token),
            HttpClientRequest.bodyUnsafeJson(request.body)
          )
        )
        yield* response.text
        return { status: response.status, ms: performance.now() - started } satisfies Outcome
      }).pipe(Effect.scoped, Effect.orDie)
    const started = performance.now()
    const outcomes = yield* Effect.forEach(requests, one, { concurrency: CONCURRENCY })
    return { outcomes, seconds: (performance.now() - started) / 1000 }
  })

/** Nights above the room's quantity, plus inventory rows disagreeing with the bookings. */
const overbooking = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const [above] = yield* sql<{ n: number }>`
    SELECT count(*)::int AS n FROM (
      SELECT b.room_id, b.date_from + i AS night, count(*) AS taken
      FROM bookings b CROSS JOIN LATERAL generate_series(0, b.date_to - b.date_from - 1) AS i
      WHERE b.status = 'confirmed'
      GROUP BY 1, 2
    ) t JOIN rooms r ON r.id = t.room_id
    WHERE t.taken > r.quantity`
  const problems = yield* inventoryProblems
  return { nightsAboveQuantity: above!.n, inventoryProblems: problems.length }
})

const report = (name: string, run: { outcomes: ReadonlyArray<Outcome>; seconds: number }) =>
  Effect.gen(function* () {
    const latencies = run.outcomes.map((o) => o.ms).sort((a, b) => a - b)
    const created = run.outcomes.filter((o) => o.status === 200).length
    const soldOut = run.outcomes.filter((o) => o.status === 409).length
    const other = run.outcomes.length - created - soldOut
    const over = yield* overbooking
    console.log(
      [
        `${name}: ${run.outcomes.length} requests in ${run.seconds.toFixed(2)} s`,
        `  created ${created}, sold out (409) ${soldOut}, other ${other}`,
        `  bookings/s ${(created / run.seconds).toFixed(1)}, requests/s ${(run.outcomes.length / run.seconds).toFixed(1)}`,
        `  latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`,
        `  overbooking: ${over.nightsAboveQuantity} night(s) above quantity, ${over.inventoryProblems} inventory row(s) off`
      ].join("\n")
    )
    return over.nightsAboveQuantity + over.inventoryProblems + other
  })

const program = Effect.gen(function* () {
  const { hot, many, tokens } = yield* seed
  const pick = <A>(items: ReadonlyArray<A>) => Effect.map(Random.nextIntBetween(0, items.length), (i) => items[i]!)
  console.log(`pool ${POOL}, client concurrency ${CONCURRENCY}`)

  const hotRequests = yield* Effect.forEach(Array.range(1, HOT_REQUESTS), () =>
    Effect.map(pick(tokens), (token) => ({ token, body: { room_id: hot, date_from: day(30), date_to: day(33) } }))
  )
  const hotRun = yield* fire(hotRequests)
  let failures = yield* report(`hot room (quantity ${HOT_QUANTITY}, same 3 nights)`, hotRun)
  const hotCreated = hotRun.outcomes.filter((o) => o.status === 200).length
  if (hotCreated !== Math.min(HOT_QUANTITY, HOT_REQUESTS)) {
    console.log(`  UNEXPECTED: ${hotCreated} created, expected ${Math.min(HOT_QUANTITY, HOT_REQUESTS)}`)
    failures++
  }

  const manyRequests = yield* Effect.forEach(Array.range(1, MANY_REQUESTS), () =>
    Effect.gen(function* () {
      const from = yield* Random.nextIntBetween(1, 60)
      const nights = yield* Random.nextIntBetween(1, 6)
      return {
        token: yield* pick(tokens),
        body: { room_id: yield* pick(many), date_from: day(from), date_to: day(from + nights) }
      }
    })
  )
  failures += yield* report(`many rooms (${ROOMS} types of 5 units, random stays)`, yield* fire(manyRequests))

  // the same flash sale without HTTP (no JSON, no JWT; the session checked in the booking's statement): what the database path costs alone
  const sql = yield* SqlClient.SqlClient
  const [direct] = yield* sql<{ id: number }>`
    INSERT INTO rooms (hotel_id, title, price, quantity) VALUES (1, 'Напрямую', 3000, ${HOT_QUANTITY}) RETURNING id`
  const bookings = yield* BookingsService
  // the session `DeferredAuthentication` would hand the service; the booking's statement checks it (D13)
  const caller = newSession({ userId: 1, jti: "", expiresAt: 0, version: 0 }, Effect.void)
  const body = { room_id: direct!.id, date_from: DateString.make(day(40)), date_to: DateString.make(day(43)) }
  const directStarted = performance.now()
  const directOutcomes = yield* Effect.forEach(
    Array.range(1, HOT_REQUESTS),
    () =>
      Effect.gen(function* () {
        const started = performance.now()
        const result = yield* Effect.either(bookings.create(caller, body, undefined))
        return { status: result._tag === "Right" ? 200 : 409, ms: performance.now() - started } satisfies Outcome
      }),
    { concurrency: CONCURRENCY }
  )
  failures += yield* report(`hot room, booking service without HTTP (quantity ${HOT_QUANTITY})`, {
    outcomes: directOutcomes,
    seconds: (performance.now() - directStarted) / 1000
  })

  // the same again with an Idempotency-Key per request: the key's claim and answer are written with the booking
  const [keyed] = yield* sql<{ id: number }>`
    INSERT INTO rooms (hotel_id, title, price, quantity) VALUES (1, 'С ключом', 3000, ${HOT_QUANTITY}) RETURNING id`
  const keyedBody = { ...body, room_id: keyed!.id }
  const keyedStarted = performance.now()
  const keyedOutcomes = yield* Effect.forEach(
    Array.range(1, HOT_REQUESTS),
    (i) =>
      Effect.gen(function* () {
        const started = performance.now()
        const result = yield* Effect.either(bookings.create(caller, keyedBody, `bench-${i}`))
        return { status: result._tag === "Right" ? 200 : 409, ms: performance.now() - started } satisfies Outcome
      }),
    { concurrency: CONCURRENCY }
  )
  failures += yield* report(`hot room, booking service with an Idempotency-Key (quantity ${HOT_QUANTITY})`, {
    outcomes: keyedOutcomes,
    seconds: (performance.now() - keyedStarted) / 1000
  })

  const pageOfRooms = many.slice(0, 100)
  const availabilityMs: Array<number> = []
  for (let i = 0; i < 200; i++) {
    const started = performance.now()
    yield* Availability.freeUnits(pageOfRooms, day(10), day(20))
    availabilityMs.push(performance.now() - started)
  }
  availabilityMs.sort((a, b) => a - b)
  console.log(
    `availability of ${pageOfRooms.length} rooms over 10 nights: p50 ${percentile(availabilityMs, 50).toFixed(2)} ms, ` +
      `p99 ${percentile(availabilityMs, 99).toFixed(2)} ms`
  )
  if (failures > 0) {
    console.log(`FAILED: ${failures} overbooking/unexpected outcome(s)`)
    process.exitCode = 1
  }
})

Effect.runPromise(program.pipe(Effect.provide(Server), Effect.scoped)).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})

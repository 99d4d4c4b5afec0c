/**
 * No N+1 (issue 4): the SQL statements a catalogue list issues do not grow with the number of rows.
 *
 * Statements are counted where `@effect/sql` runs them: every statement opens an `sql.execute` span, so a
 * tracer wrapping the native one counts those spans whose ancestors include the HTTP request carrying our
 * `X-Request-Id` (the request-id middleware puts it on the request's span). Counting per request keeps the
 * test exact even if something else queried the database meanwhile.
 */
import { assert, layer } from "@effect/vitest"
import { randomName } from "@shum/infra/Testing"
import { Effect, Layer, Option, Tracer } from "effect"
import { day } from "./BookingsFixtures.js"
import { insertBooking, insertCity, insertFacility, insertHotel, insertRoom, raw } from "./CatalogueFixtures.js"
import { makeTestServer } from "./support.js"

const statements = new Map<string, number>()

const requestIdOf = (span: Option.Option<Tracer.AnySpan>): string | undefined => {
  let current = span
  while (Option.isSome(current)) {
    const value = current.value
    if (value._tag === "ExternalSpan") return undefined
    const id = value.attributes.get("http.request_id")
    if (typeof id === "string") return id
    current = value.parent
  }
  return undefined
}

const CountingTracer = Layer.unwrapEffect(
  Effect.map(Effect.tracer, (native) =>
    Layer.setTracer(
      Tracer.make({
        span: (name, parent, context, links, startTime, kind, options) => {
          const span = native.span(name, parent, context, links, startTime, kind, options)
          if (name === "sql.execute") {
            const id = requestIdOf(parent)
            if (id !== undefined) statements.set(id, (statements.get(id) ?? 0) + 1)
          }
          return span
        },
        context: (f, fiber) => native.context(f, fiber)
      })
    )
  )
)

/** The status and the number of SQL statements of one GET. */
const measure = (url: string) =>
  Effect.gen(function* () {
    const id = randomName("count-")
    const response = yield* raw("GET", url, { headers: { "x-request-id": id } })
    assert.strictEqual(response.status, 200, url)
    return { count: statements.get(id) ?? 0, body: response.json as ReadonlyArray<{ readonly rooms?: unknown[] }> }
  })

layer(makeTestServer({}, { tracing: true }).pipe(Layer.provide(CountingTracer)), {
  excludeTestServices: true,
  timeout: "60 seconds"
})("bounded SQL statements per list (no N+1)", (it) => {
  it.effect("GET /hotels?per_page=20: one statement for 1 hotel or 20, with any filter and sort", () =>
    Effect.gen(function* () {
      const tag = randomName("nq")
      const city = yield* insertCity(undefined, `${tag}-город`)
      yield* insertHotel(city.id, `${tag} 0`)
      const one = yield* measure(`/hotels?per_page=20&title=${tag}`)
      assert.strictEqual(one.body.length, 1)
      for (let i = 1; i < 25; i++) yield* insertHotel(city.id, `${tag} ${i}`)
      const twenty = yield* measure(`/hotels?per_page=20&title=${tag}`)
      assert.strictEqual(twenty.body.length, 20)
      assert.strictEqual(twenty.count, one.count)
      assert.strictEqual(twenty.count, 1)
      const sorted = yield* measure(`/hotels?per_page=20&sort_by=city&order=desc&city_id=${city.id}&city=${tag}`)
      assert.strictEqual(sorted.body.length, 20)
      assert.strictEqual(sorted.count, 1)
    })
  )

  it.effect("GET /hotels/{id}/rooms: one statement for 1 room or 20 rooms with facilities", () =>
    Effect.gen(function* () {
      const hotel = yield* insertHotel()
      const facilities = [yield* insertFacility(), yield* insertFacility(), yield* insertFacility()]
      const facilityIds = facilities.map((f) => f.id)
      yield* insertRoom(hotel.id, { facilityIds })
      const one = yield* measure(`/hotels/${hotel.id}/rooms?per_page=20`)
      assert.strictEqual(one.body.length, 1)
      for (let i = 1; i < 20; i++) yield* insertRoom(hotel.id, { facilityIds })
      const twenty = yield* measure(`/hotels/${hotel.id}/rooms?per_page=20`)
      assert.strictEqual(twenty.body.length, 20)
      assert.strictEqual(twenty.count, one.count)
      assert.strictEqual(twenty.count, 1) // the hotel and its rooms with their facilities, together
    })
  )

  it.effect("the availability searches: one statement each, two after a catalogue change, whatever the size", () =>
    Effect.gen(function* () {
      const tag = randomName("na")
      const city = yield* insertCity(undefined, `${tag}-город`)
      const facility = yield* insertFacility()
      const first = yield* insertHotel(city.id)
      const room = yield* insertRoom(first.id, { facilityIds: [facility.id] })
      yield* insertBooking(room.id, day(60), day(62))
      const search = `/hotels/rooms/available?date_from=${day(60)}&date_to=${day(63)}&per_page=20&city=${tag}`
      const single = `/hotels/${first.id}/rooms/available?date_from=${day(60)}&date_to=${day(63)}`
      // the catalogue changed: the free units, then the page's fragments (`AvailabilitySearch.ts`)
      const one = yield* measure(search)
      assert.strictEqual(one.count, 2)
      // the hotel's fragments are kept: the free units only
      assert.strictEqual((yield* measure(single)).count, 1)
      for (let i = 1; i < 20; i++) {
        const hotel = yield* insertHotel(city.id)
        for (let j = 0; j < 3; j++) {
          const other = yield* insertRoom(hotel.id, { facilityIds: [facility.id] })
          yield* insertBooking(other.id, day(61), day(62))
        }
        yield* insertRoom(first.id)
      }
      const many = yield* measure(search)
      assert.strictEqual(many.body.length, 20)
      assert.isTrue(many.body.every((hotel) => hotel.rooms !== undefined && hotel.rooms.length > 0))
      assert.strictEqual(many.count, one.count)
      // a booking is no catalogue change: one statement, whatever the number of hotels and rooms
      yield* insertBooking(room.id, day(62), day(63))
      const again = yield* measure(search)
      assert.strictEqual(again.count, 1)
      assert.strictEqual(again.body.length, 20)
      const manyRooms = yield* measure(single)
      assert.strictEqual(manyRooms.body.length, 20)
      assert.strictEqual(manyRooms.count, 1)
    })
  )
})

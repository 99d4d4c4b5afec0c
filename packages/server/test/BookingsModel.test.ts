/**
 * Property (fast-check): random sequences of book / cancel / change-quantity run against the booking
 * service on the real database and against a plain in-memory model of per-night availability (D2)
 * agree on every outcome and on every availability figure; the inventory always equals the bookings.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { assert, layer } from "@effect/vitest"
import type { AuthenticatedUser } from "@shum/domain/Security"
import { Effect, FastCheck as fc, Layer, Runtime } from "effect"
import { Availability, AvailabilityFromBookings, AvailabilityLive, inventoryProblems } from "../src/Testing.js"
import { BookingsService } from "../src/Bookings/BookingsService.js"
import { UsersRepo } from "../src/Users/UsersRepo.js"
import { day, insertRoom } from "./BookingsFixtures.js"
import { sessionOf } from "./unit/fakes/Callers.js"
import { TestServer, uniqueEmail } from "./support.js"

const NIGHTS = 12

type Command =
  | { readonly op: "book"; readonly user: number; readonly from: number; readonly nights: number }
  | { readonly op: "cancel"; readonly pick: number }
  | { readonly op: "quantity"; readonly quantity: number }

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("book" as const),
      user: fc.nat(2),
      from: fc.nat(NIGHTS - 1),
      nights: fc.integer({ min: 1, max: 4 })
    })
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("cancel" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("quantity" as const), quantity: fc.nat(4) }) }
)

/** The model: a quantity and the stays in the house, as night offsets [from, to). */
class Model {
  stays: Array<{ readonly id: number; readonly from: number; readonly to: number }> = []
  constructor(public quantity: number) {}
  taken(night: number) {
    return this.stays.filter((s) => s.from <= night && night < s.to).length
  }
  busiest(from: number, to: number) {
    let max = 0
    for (let n = from; n < to; n++) max = Math.max(max, this.taken(n))
    return max
  }
  canBook(from: number, to: number) {
    return this.busiest(from, to) < this.quantity
  }
  canSetQuantity(quantity: number) {
    return this.busiest(0, NIGHTS + 4) <= quantity
  }
  free(from: number, to: number) {
    return Math.max(this.quantity - this.busiest(from, to), 0)
  }
}

const RANGES: ReadonlyArray<readonly [number, number]> = [
  [0, NIGHTS + 4],
  [0, 1],
  [0, 3],
  [2, 6],
  [5, 9],
  [8, NIGHTS + 4]
]

const isInventoryCheck = (error: SqlError) =>
  (error.cause as { constraint?: string } | undefined)?.constraint === "room_nights_sold_check"

/** The test server, plus the inventory's free-unit count the model is compared with. */
const ModelServer = Layer.provideMerge(AvailabilityLive, TestServer)

layer(ModelServer, { excludeTestServices: true, timeout: "300 seconds" })("bookings model (property)", (it) => {
  it.effect(
    "the service and the per-night model agree on every sequence of book, cancel and quantity",
    () =>
      Effect.gen(function* () {
        const users: Array<AuthenticatedUser> = []
        for (let i = 0; i < 3; i++) {
          const row = yield* (yield* UsersRepo).insert({ email: uniqueEmail("model") })
          users.push({ id: row.id, email: row.email, role: "user", jti: "", expiresAt: 0 })
        }
        const oracle = yield* Layer.build(AvailabilityFromBookings)
        const runtime = yield* Effect.runtime<BookingsService | Availability | SqlClient.SqlClient | UsersRepo>()

        const freeBoth = (roomId: number, from: number, to: number) =>
          Effect.gen(function* () {
            const live = yield* Availability.freeUnits([roomId], day(1 + from), day(1 + to))
            const counted = yield* Availability.freeUnits([roomId], day(1 + from), day(1 + to)).pipe(
              Effect.provide(oracle)
            )
            return [live.get(roomId), counted.get(roomId)] as const
          })

        const run = (initial: number, commands: ReadonlyArray<Command>) =>
          Effect.gen(function* () {
            const bookings = yield* BookingsService
            const sql = yield* SqlClient.SqlClient
            const room = yield* insertRoom({ quantity: initial, price: 7 })
            const model = new Model(initial)
            for (const [step, cmd] of commands.entries()) {
              const where = `step ${step} ${JSON.stringify(cmd)}`
              if (cmd.op === "book") {
                const from = cmd.from
                const to = from + cmd.nights
                const expected = model.canBook(from, to)
                const outcome = yield* Effect.either(
                  bookings.create(
                    sessionOf(users[cmd.user]!),
                    { room_id: room.id, date_from: day(1 + from), date_to: day(1 + to) },
                    undefined
                  )
                )
                assert.strictEqual(outcome._tag === "Right", expected, where)
                if (outcome._tag === "Left") assert.strictEqual(outcome.left._tag, "RoomUnavailable", where)
                if (expected) {
                  const [row] = yield* sql<{ id: number; price: number }>`
                  SELECT id, price FROM bookings WHERE room_id = ${room.id} ORDER BY id DESC LIMIT 1`
                  assert.strictEqual(row!.price, 7 * cmd.nights, where)
                  model.stays.push({ id: row!.id, from, to })
                }
              } else if (cmd.op === "cancel") {
                if (model.stays.length === 0) continue
                const [stay] = model.stays.splice(cmd.pick % model.stays.length, 1)
                const owner = yield* sql<{ user_id: number }>`SELECT user_id FROM bookings WHERE id = ${stay!.id}`
                const caller = users.find((u) => u.id === owner[0]!.user_id)!
                yield* bookings.cancel(caller, stay!.id)
              } else {
                const expected = model.canSetQuantity(cmd.quantity)
                const outcome = yield* Effect.either(
                  sql`UPDATE rooms SET quantity = ${cmd.quantity} WHERE id = ${room.id}`
                )
                assert.strictEqual(outcome._tag === "Right", expected, where)
                if (outcome._tag === "Left") assert.isTrue(isInventoryCheck(outcome.left), where)
                if (expected) model.quantity = cmd.quantity
              }
              for (const [from, to] of RANGES) {
                const [live, counted] = yield* freeBoth(room.id, from, to)
                assert.strictEqual(live, model.free(from, to), `${where}: free [${from}, ${to})`)
                assert.strictEqual(counted, live, `${where}: oracle [${from}, ${to})`)
              }
            }
            assert.deepStrictEqual(yield* Effect.orDie(inventoryProblems), [])
          })

        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.nat(3), fc.array(command, { minLength: 1, maxLength: 30 }), (initial, commands) =>
              Runtime.runPromise(runtime)(run(initial, commands).pipe(Effect.orDie))
            ),
            { numRuns: 40 }
          )
        )
      }).pipe(Effect.scoped),
    // 40 sequences of up to 30 commands against the real database: seconds alone, far more on a loaded machine
    120_000
  )

  it.effect("AvailabilityLive and the count from the bookings agree on many rooms in one statement", () =>
    Effect.gen(function* () {
      const rooms = yield* Effect.all([1, 2, 3, 0].map((quantity) => insertRoom({ quantity })))
      const ids = [...rooms.map((r) => r.id), 999_999]
      const live = yield* Availability.freeUnits(ids, day(1), day(5))
      assert.deepStrictEqual(
        [...live.entries()].sort(([a], [b]) => a - b),
        rooms.map((r, i) => [r.id, [1, 2, 3, 0][i]!] as [number, number])
      )
      const counted = yield* Availability.freeUnits(ids, day(1), day(5)).pipe(Effect.provide(AvailabilityFromBookings))
      assert.deepStrictEqual(counted, live)
      assert.deepStrictEqual(yield* Availability.freeUnits([], day(1), day(5)), new Map())
    }).pipe(Effect.provide(AvailabilityLive))
  )
})

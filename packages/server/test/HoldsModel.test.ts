/**
 * Property (fast-check): random sequences of hold / confirm / release / expire / sweep / book / cancel /
 * change-dates run
 * against the services on the real database and against a plain in-memory model of holds and bookings
 * (docs/data.md BR-13). After every step the inventory (`room_nights`: `sold` and `held` per night) equals the
 * model's, the searches' free units equal the model's, and the inventory's invariants hold. `sold` counts the
 * bookings made directly, `held` the active holds and the bookings made from a hold (a confirm writes no night;
 * a cancel or a change of dates of such a booking gives back or moves units in `held`).
 *
 * The model keeps, per hold, the status the database stores and whether its time has passed: a hold past
 * `expires_at` takes nothing at once (the searches, every capacity check), while its stored status — and so
 * `held` — changes only when something records the expiry: a confirm or release of it, the sweep, or a booking
 * or hold whose capacity check meets it on its nights (`take_nights` releases it under the night locks) — one
 * that fits, or a change of dates: a new stay refused as sold out is judged without locks and records nothing.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import type { AuthenticatedUser } from "@shum/domain/Security"
import { sweepExpiredHolds } from "@shum/worker/HoldSweep"
import { Effect, FastCheck as fc, Layer, Runtime } from "effect"
import { BookingsService } from "../src/Bookings/BookingsService.js"
import { HoldsService } from "../src/Holds/HoldsService.js"
import { Availability, AvailabilityLive, inventoryProblems } from "../src/Testing.js"
import { UsersRepo } from "../src/Users/UsersRepo.js"
import { day, insertRoom } from "./BookingsFixtures.js"
import { sessionOf } from "./unit/fakes/Callers.js"
import { TestServer, uniqueEmail } from "./support.js"

const NIGHTS = 8
const USERS = 3
/** MAX_ACTIVE_HOLDS_PER_USER's default. */
const CAP = 5

type Command =
  | { readonly op: "hold" | "book"; readonly user: number; readonly from: number; readonly nights: number }
  | { readonly op: "confirm" | "release" | "expire"; readonly pick: number; readonly user: number }
  | { readonly op: "cancel"; readonly pick: number }
  | { readonly op: "move"; readonly pick: number; readonly from: number; readonly nights: number }
  | { readonly op: "sweep" }

const stay = (op: "hold" | "book") =>
  fc.record({
    op: fc.constant(op),
    user: fc.nat(USERS - 1),
    from: fc.nat(NIGHTS - 1),
    nights: fc.integer({ min: 1, max: 3 })
  })
const picked = (op: "confirm" | "release" | "expire") =>
  fc.record({ op: fc.constant(op), pick: fc.nat(), user: fc.nat(USERS) })

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: stay("hold") },
  { weight: 3, arbitrary: stay("book") },
  { weight: 3, arbitrary: picked("confirm") },
  { weight: 2, arbitrary: picked("release") },
  { weight: 2, arbitrary: picked("expire") },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("cancel" as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("move" as const),
      pick: fc.nat(),
      from: fc.nat(NIGHTS - 1),
      nights: fc.integer({ min: 1, max: 3 })
    })
  },
  { weight: 1, arbitrary: fc.constant({ op: "sweep" as const }) }
)

type Stored = "active" | "confirmed" | "released" | "expired"

interface ModelHold {
  readonly id: number
  readonly user: number
  readonly from: number
  readonly to: number
  stored: Stored
  /** `expires_at` has passed. */
  timeUp: boolean
  bookingId: number | null
}

class Model {
  /** Confirmed bookings; `fromHold`: made by a hold's confirm (`bookings.hold_id`). */
  stays: Array<{ readonly id: number; from: number; to: number; readonly fromHold: boolean }> = []
  holds: Array<ModelHold> = []
  constructor(readonly quantity: number) {}
  private covers = (s: { from: number; to: number }, night: number) => s.from <= night && night < s.to
  /** What `room_nights.sold` counts: the bookings made directly. */
  sold(night: number) {
    return this.stays.filter((s) => !s.fromHold && this.covers(s, night)).length
  }
  /**
   * What `room_nights.held` counts (docs/data.md BR-13): holds stored active, whether or not their time is up,
   * and the bookings made from a hold, on the nights they have now.
   */
  held(night: number) {
    return (
      this.holds.filter((h) => h.stored === "active" && this.covers(h, night)).length +
      this.stays.filter((s) => s.fromHold && this.covers(s, night)).length
    )
  }
  /** What takes a unit in effect: bookings and the active holds whose time is not up. */
  taken(night: number) {
    return (
      this.stays.filter((s) => this.covers(s, night)).length +
      this.holds.filter((h) => this.live(h) && this.covers(h, night)).length
    )
  }
  live(h: ModelHold) {
    return h.stored === "active" && !h.timeUp
  }
  /** Every night of [from, to) outside [keepFrom, keepTo) (a stay being moved) has a unit free. */
  canTake(from: number, to: number, keepFrom = 0, keepTo = 0) {
    for (let n = from; n < to; n++) {
      if ((n < keepFrom || n >= keepTo) && this.taken(n) >= this.quantity) return false
    }
    return true
  }
  free(from: number, to: number) {
    let busiest = 0
    for (let n = from; n < to; n++) busiest = Math.max(busiest, this.taken(n))
    return Math.max(this.quantity - busiest, 0)
  }
  activeOf(user: number) {
    return this.holds.filter((h) => h.user === user && this.live(h)).length
  }
  /** `take_nights` on [from, to): the holds whose time is up there are recorded expired. */
  capacityCheck(from: number, to: number) {
    for (const h of this.holds)
      if (h.stored === "active" && h.timeUp && h.from < to && h.to > from) h.stored = "expired"
  }
}

const RANGES: ReadonlyArray<readonly [number, number]> = [
  [0, NIGHTS + 3],
  [0, 2],
  [2, 5],
  [5, NIGHTS + 3]
]

const ModelServer = Layer.provideMerge(AvailabilityLive, TestServer)

layer(ModelServer, { excludeTestServices: true, timeout: "300 seconds" })("holds model (property, BR-13)", (it) => {
  it.effect(
    "holds, bookings and their inventory agree with the model on every sequence",
    () =>
      Effect.gen(function* () {
        const users: Array<AuthenticatedUser> = []
        for (let i = 0; i < USERS; i++) {
          const row = yield* (yield* UsersRepo).insert({ email: uniqueEmail("holds-model") })
          users.push({ id: row.id, email: row.email, role: "user", jti: "", expiresAt: 0 })
        }
        // an admin of the database: a confirm's statement reads the caller's role itself (docs/decisions.md D13)
        const adminRow = yield* (yield* UsersRepo).insert({ email: uniqueEmail("holds-model-admin"), role: "admin" })
        const admin: AuthenticatedUser = {
          id: adminRow.id,
          email: adminRow.email,
          role: "admin",
          jti: "",
          expiresAt: 0
        }
        const runtime = yield* Effect.runtime<
          BookingsService | HoldsService | Availability | SqlClient.SqlClient | UsersRepo
        >()

        const run = (quantity: number, commands: ReadonlyArray<Command>) =>
          Effect.gen(function* () {
            const bookings = yield* BookingsService
            const holds = yield* HoldsService
            const sql = yield* SqlClient.SqlClient
            // each sequence starts with no hold of these users counting against their cap (a failed one, too)
            yield* sql`UPDATE holds SET status = 'released' WHERE status = 'active'`
            const room = yield* insertRoom({ quantity, price: 3 })
            const model = new Model(quantity)
            const body = (from: number, to: number) => ({
              room_id: room.id,
              date_from: day(1 + from),
              date_to: day(1 + to)
            })
            // `user` = USERS picks an admin acting on someone else's hold
            const callerFor = (h: ModelHold, user: number) => (user === USERS ? admin : users[h.user]!)

            for (const [step, cmd] of commands.entries()) {
              const where = `step ${step} ${JSON.stringify(cmd)}`
              switch (cmd.op) {
                case "hold": {
                  const to = cmd.from + cmd.nights
                  const tooMany = model.activeOf(cmd.user) >= CAP
                  const fits = !tooMany && model.canTake(cmd.from, to)
                  // refused as sold out, it locks and records nothing (migration 0017)
                  if (fits) model.capacityCheck(cmd.from, to)
                  const outcome = yield* Effect.either(
                    holds.create(sessionOf(users[cmd.user]!), body(cmd.from, to), undefined)
                  )
                  if (tooMany) assert.strictEqual(outcome._tag === "Left" && outcome.left._tag, "TooManyHolds", where)
                  else if (!fits)
                    assert.strictEqual(outcome._tag === "Left" && outcome.left._tag, "RoomUnavailable", where)
                  else {
                    assert.strictEqual(outcome._tag, "Right", where)
                    if (outcome._tag === "Right") {
                      assert.strictEqual(outcome.right.price, 3 * cmd.nights, where)
                      model.holds.push({
                        id: outcome.right.id,
                        user: cmd.user,
                        from: cmd.from,
                        to,
                        stored: "active",
                        timeUp: false,
                        bookingId: null
                      })
                    }
                  }
                  break
                }
                case "book": {
                  const to = cmd.from + cmd.nights
                  const fits = model.canTake(cmd.from, to)
                  if (fits) model.capacityCheck(cmd.from, to)
                  const outcome = yield* Effect.either(
                    bookings.create(sessionOf(users[cmd.user]!), body(cmd.from, to), undefined)
                  )
                  assert.strictEqual(outcome._tag === "Right", fits, where)
                  if (outcome._tag === "Left") assert.strictEqual(outcome.left._tag, "RoomUnavailable", where)
                  else model.stays.push({ id: outcome.right.id, from: cmd.from, to, fromHold: false })
                  break
                }
                case "confirm": {
                  if (model.holds.length === 0) continue
                  const h = model.holds[cmd.pick % model.holds.length]!
                  const outcome = yield* Effect.either(holds.confirm(sessionOf(callerFor(h, cmd.user)), h.id))
                  if (h.stored === "active" && !h.timeUp) {
                    assert.strictEqual(outcome._tag, "Right", where)
                    if (outcome._tag === "Right") {
                      assert.deepInclude(outcome.right, { room_id: room.id, user_id: users[h.user]!.id }, where)
                      h.stored = "confirmed"
                      h.bookingId = outcome.right.id
                      model.stays.push({ id: outcome.right.id, from: h.from, to: h.to, fromHold: true })
                    }
                  } else if (h.stored === "active" || h.stored === "expired") {
                    assert.strictEqual(outcome._tag === "Left" && outcome.left._tag, "HoldExpired", where)
                    h.stored = "expired"
                  } else if (h.stored === "released") {
                    assert.strictEqual(outcome._tag === "Left" && outcome.left._tag, "HoldNotActive", where)
                  } else if (model.stays.some((s) => s.id === h.bookingId)) {
                    // confirmed before: the same booking again
                    assert.strictEqual(outcome._tag === "Right" && outcome.right.id, h.bookingId, where)
                  }
                  break
                }
                case "release": {
                  if (model.holds.length === 0) continue
                  const h = model.holds[cmd.pick % model.holds.length]!
                  const outcome = yield* Effect.either(holds.release(callerFor(h, cmd.user), h.id))
                  if (h.stored === "confirmed") {
                    assert.strictEqual(outcome._tag === "Left" && outcome.left._tag, "HoldNotActive", where)
                  } else {
                    if (h.stored === "active") h.stored = h.timeUp ? "expired" : "released"
                    assert.strictEqual(outcome._tag === "Right" && outcome.right.status, h.stored, where)
                  }
                  break
                }
                case "expire": {
                  const live = model.holds.filter((h) => model.live(h))
                  if (live.length === 0) continue
                  const h = live[cmd.pick % live.length]!
                  yield* sql`UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = ${h.id}`
                  h.timeUp = true
                  break
                }
                case "sweep": {
                  const due = model.holds.filter((h) => h.stored === "active" && h.timeUp)
                  assert.strictEqual(yield* sweepExpiredHolds(2), due.length, where)
                  for (const h of due) h.stored = "expired"
                  break
                }
                case "move": {
                  if (model.stays.length === 0) continue
                  const moved = model.stays[cmd.pick % model.stays.length]!
                  const to = cmd.from + cmd.nights
                  const [owner] = yield* sql<{ user_id: number }>`SELECT user_id FROM bookings WHERE id = ${moved.id}`
                  const same = moved.from === cmd.from && moved.to === to
                  const fits = same || model.canTake(cmd.from, to, moved.from, moved.to)
                  if (!same) model.capacityCheck(cmd.from, to)
                  const outcome = yield* Effect.either(
                    bookings.changeDates(
                      users.find((u) => u.id === owner!.user_id)!,
                      moved.id,
                      { date_from: day(1 + cmd.from), date_to: day(1 + to) },
                      undefined
                    )
                  )
                  assert.strictEqual(outcome._tag === "Right", fits, where)
                  if (outcome._tag === "Left") assert.strictEqual(outcome.left._tag, "RoomUnavailable", where)
                  else {
                    moved.from = cmd.from
                    moved.to = to
                  }
                  break
                }
                case "cancel": {
                  if (model.stays.length === 0) continue
                  const [gone] = model.stays.splice(cmd.pick % model.stays.length, 1)
                  const [owner] = yield* sql<{ user_id: number }>`SELECT user_id FROM bookings WHERE id = ${gone!.id}`
                  yield* bookings.cancel(
                    users.find((u) => u.id === owner!.user_id)!,
                    gone!.id
                  )
                  break
                }
              }
              // the inventory table equals the model, night by night
              const rows = yield* sql<{ night: string; sold: number; held: number }>`
                SELECT night, sold, held FROM room_nights WHERE room_id = ${room.id} ORDER BY night`
              const stored = new Map(rows.map((r) => [r.night, [r.sold, r.held]]))
              for (let n = 0; n < NIGHTS + 3; n++) {
                assert.deepStrictEqual(
                  stored.get(day(1 + n)) ?? [0, 0],
                  [model.sold(n), model.held(n)],
                  `${where}: night ${n}`
                )
              }
              for (const [from, to] of RANGES) {
                const free = yield* Availability.freeUnits([room.id], day(1 + from), day(1 + to))
                assert.strictEqual(free.get(room.id), model.free(from, to), `${where}: free [${from}, ${to})`)
              }
              const statuses = yield* sql<{ id: number; status: string }>`
                SELECT id, status FROM holds WHERE room_id = ${room.id} ORDER BY id`
              assert.deepStrictEqual(
                statuses.map((r) => [r.id, r.status]),
                model.holds.map((h) => [h.id, h.stored]),
                `${where}: statuses`
              )
            }
            assert.deepStrictEqual(yield* Effect.orDie(inventoryProblems), [])
          })

        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.integer({ min: 1, max: 3 }),
              fc.array(command, { minLength: 5, maxLength: 30, size: "max" }),
              (quantity, commands) => Runtime.runPromise(runtime)(run(quantity, commands).pipe(Effect.orDie))
            ),
            { numRuns: 60 }
          )
        )
      }).pipe(Effect.scoped),
    // 60 sequences of 5 to 30 commands against the real database: seconds alone, far more on a loaded machine
    180_000
  )
})

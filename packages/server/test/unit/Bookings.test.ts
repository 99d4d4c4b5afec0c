/**
 * The booking service's rules against in-memory repositories (`fakes/Bookings.ts`): the dates (400), the stay
 * limits of D11 (422, before anything is read), sold-out nights (409), the rights to cancel (D1), the
 * `Idempotency-Key` outcomes and the service's reading of the repository's typed refusals (an aborted write
 * retried, the inventory's CHECK a 409, an overflowing total a 422). Today is fixed with `TestClock`: 2026-03-10 (UTC).
 * No database: `../Bookings.test.ts`, `../BookingsIdempotency.test.ts` and `../BookingsConcurrency.test.ts`
 * prove the SQL, the locks and the inventory on PostgreSQL.
 */
import "./fakes/NoNetwork.js"
import { assert, describe, it } from "@effect/vitest"
import { Booking, BookingCreated, BookingDates, BookingIn } from "@shum/domain/Bookings"
import { DateString } from "@shum/domain/Common"
import type { ValidationIssue } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { Effect, Layer, TestClock } from "effect"
import { BookingsService } from "../../src/Bookings/BookingsService.js"
import { StayLimits } from "../../src/Bookings/StayLimits.js"
import { Metrics } from "../../src/Metrics.js"
import { caller, problem, sessionOf } from "./fakes/Callers.js"
import { BookingsMemory, BookingsTables, deadlock, inventoryRefusal, numericOverflow } from "./fakes/Bookings.js"
import { unitEnvironment } from "./fakes/Environment.js"

const SINGLE = 1 // one unit, 1000 a night
const TWIN = 2 // two units, 500 a night

const TestLayer = () =>
  BookingsService.DefaultWithoutDependencies.pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        BookingsMemory({ [SINGLE]: { price: 1000, quantity: 1 }, [TWIN]: { price: 500, quantity: 2 } }),
        StayLimits.Default
      )
    ),
    Layer.provideMerge(unitEnvironment({ MAX_STAY_NIGHTS: "10", BOOKING_HORIZON_DAYS: "30" }))
  )

/** Runs with today = 2026-03-10 (UTC). */
const run = <A, E>(effect: Effect.Effect<A, E, BookingsService | BookingsTables | Metrics>) =>
  Effect.provide(Effect.zipRight(TestClock.setTime(Date.parse("2026-03-10T12:00:00Z")), effect), TestLayer())

const stay = (room: number, from: string, to: string) =>
  new BookingIn({ room_id: room, date_from: DateString.make(from), date_to: DateString.make(to) })

const alice = caller(10)
const bob = caller(11)
const admin = caller(99, "admin")

/** The same request with and without an `Idempotency-Key`: both paths keep the same rules. */
const paths = [
  ["without a key", () => undefined],
  ["with a key", () => `key-${Math.random()}`]
] as const

/** The confirmed bookings: a cancelled one is kept, but holds nothing (docs/data.md BR-14). */
const bookings = Effect.map(BookingsTables, (state) => state.bookings.filter((b) => b.status === "confirmed"))

const all = Effect.map(BookingsTables, (state) => state.bookings)

const created = Effect.flatMap(Metrics, ({ counters }) =>
  Effect.promise(() => counters.bookingsCreated.get()).pipe(Effect.map((metric) => metric.values[0]?.value ?? 0))
)

describe("BookingsService (in-memory repositories)", () => {
  for (const [name, key] of paths) {
    it.effect(`${name}: a stay that is empty or reversed, or starts before today, is 400; today is fine`, () =>
      run(
        Effect.gen(function* () {
          const service = yield* BookingsService
          const refused = (from: string, to: string) =>
            Effect.flip(service.create(sessionOf(alice), stay(TWIN, from, to), key()))
          assert.deepStrictEqual(problem(yield* refused("2026-03-12", "2026-03-12")), {
            _tag: "InvalidDateRange",
            detail: Messages.stayInvalid
          })
          assert.strictEqual(problem(yield* refused("2026-03-14", "2026-03-12")).detail, Messages.stayInvalid)
          assert.deepStrictEqual(problem(yield* refused("2026-03-09", "2026-03-12")), {
            _tag: "InvalidDateRange",
            detail: Messages.stayInPast
          })
          assert.lengthOf(yield* bookings, 0)
          const answer = yield* service.create(sessionOf(alice), stay(TWIN, "2026-03-10", "2026-03-11"), key())
          // D15: the original's body, the id and the booking itself
          assert.deepStrictEqual(
            answer,
            new BookingCreated({ status: "OK", id: answer.booking.id, booking: answer.booking })
          )
          assert.deepStrictEqual(yield* bookings, [answer.booking])
        })
      )
    )

    it.effect(`${name}: an unknown room is 404, before the dates are judged`, () =>
      run(
        Effect.gen(function* () {
          const service = yield* BookingsService
          for (const [from, to] of [
            ["2026-03-12", "2026-03-14"],
            ["2026-03-01", "2026-03-02"]
          ] as const) {
            const missing = yield* Effect.flip(service.create(sessionOf(alice), stay(404, from, to), key()))
            assert.deepStrictEqual(problem(missing), {
              _tag: "NotFound",
              detail: Messages.entityNotFound("Номер", 404)
            })
          }
        })
      )
    )

    it.effect(
      `${name}: beyond MAX_STAY_NIGHTS or BOOKING_HORIZON_DAYS is 422 at the date, before the room is read`,
      () =>
        run(
          Effect.gen(function* () {
            const service = yield* BookingsService
            const issues = (room: number, from: string, to: string) =>
              Effect.map(
                Effect.flip(service.create(sessionOf(alice), stay(room, from, to), key())),
                (error) => (error as unknown as { detail: ReadonlyArray<ValidationIssue> }).detail
              )
            // 11 nights: too long (even for a room that does not exist: nothing is read first)
            for (const room of [TWIN, 404]) {
              const [long] = yield* issues(room, "2026-03-12", "2026-03-23")
              assert.deepStrictEqual([long!.loc, long!.ctx], [["body", "date_to"], { max_stay_nights: 10 }])
              assert.include(long!.msg, "MAX_STAY_NIGHTS")
            }
            // 31 days ahead: too far; both at once are both reported
            const [far] = yield* issues(TWIN, "2026-04-10", "2026-04-11")
            assert.deepStrictEqual(far!.loc, ["body", "date_from"])
            assert.deepStrictEqual(far!.ctx, { booking_horizon_days: 30, latest: "2026-04-09" })
            assert.deepStrictEqual(
              (yield* issues(TWIN, "2026-04-10", "2026-05-10")).map((issue) => issue.loc[1]),
              ["date_from", "date_to"]
            )
            assert.lengthOf(yield* bookings, 0)
            // exactly at both limits: booked
            yield* service.create(sessionOf(alice), stay(TWIN, "2026-04-09", "2026-04-19"), key())
            assert.lengthOf(yield* bookings, 1)
          })
        )
    )

    it.effect(`${name}: a night with every unit taken is 409; the check-out day is free for the next guest`, () =>
      run(
        Effect.gen(function* () {
          const service = yield* BookingsService
          yield* service.create(sessionOf(alice), stay(SINGLE, "2026-03-12", "2026-03-15"), key())
          const overlap = yield* Effect.flip(
            service.create(sessionOf(bob), stay(SINGLE, "2026-03-14", "2026-03-16"), key())
          )
          assert.deepStrictEqual(problem(overlap), { _tag: "RoomUnavailable", detail: Messages.roomSoldOut })
          yield* service.create(sessionOf(bob), stay(SINGLE, "2026-03-15", "2026-03-16"), key())
          // two units: two guests on the same nights, not three
          yield* service.create(sessionOf(alice), stay(TWIN, "2026-03-12", "2026-03-13"), key())
          yield* service.create(sessionOf(bob), stay(TWIN, "2026-03-12", "2026-03-13"), key())
          const third = yield* Effect.flip(
            service.create(sessionOf(admin), stay(TWIN, "2026-03-12", "2026-03-13"), key())
          )
          assert.strictEqual(third._tag, "RoomUnavailable")
          assert.deepStrictEqual(
            (yield* bookings).map((b) => [b.room_id, b.user_id, b.price]),
            [
              [SINGLE, alice.id, 3000],
              [SINGLE, bob.id, 1000],
              [TWIN, alice.id, 500],
              [TWIN, bob.id, 500]
            ]
          )
          assert.strictEqual(yield* created, 4)
        })
      )
    )
  }

  it.effect("get (D15): the owner or an admin reads it; anyone else gets the 404 of a missing one", () =>
    run(
      Effect.gen(function* () {
        const service = yield* BookingsService
        const { booking } = yield* service.create(sessionOf(alice), stay(SINGLE, "2026-03-12", "2026-03-14"), undefined)
        assert.deepStrictEqual(yield* service.get(alice, booking.id), booking)
        assert.deepStrictEqual(yield* service.get(admin, booking.id), booking)
        const stranger = yield* Effect.flip(service.get(bob, booking.id))
        const missing = yield* Effect.flip(service.get(alice, booking.id + 1))
        assert.deepStrictEqual(problem(stranger), { _tag: "NotFound", detail: Messages.bookingNotFound })
        assert.deepStrictEqual(problem(missing), problem(stranger))
      })
    )
  )

  it.effect("cancel: the owner or an admin (D1); anyone else 403; a missing booking 404; the nights are freed", () =>
    run(
      Effect.gen(function* () {
        const service = yield* BookingsService
        yield* service.create(sessionOf(alice), stay(SINGLE, "2026-03-12", "2026-03-14"), undefined)
        const [booking] = yield* bookings
        const denied = yield* Effect.flip(service.cancel(bob, booking!.id))
        assert.deepStrictEqual(problem(denied), { _tag: "Forbidden", detail: Messages.bookingNotYours })
        assert.lengthOf(yield* bookings, 1)
        yield* service.cancel(alice, booking!.id)
        const gone = yield* Effect.flip(service.cancel(alice, booking!.id))
        assert.deepStrictEqual(problem(gone), { _tag: "NotFound", detail: Messages.bookingNotFound })
        // 404 before 403: a stranger learns nothing about a missing booking
        assert.strictEqual((yield* Effect.flip(service.cancel(bob, 12345)))._tag, "NotFound")
        yield* service.create(sessionOf(bob), stay(SINGLE, "2026-03-12", "2026-03-14"), undefined)
        yield* service.cancel(admin, (yield* bookings)[0]!.id)
        assert.lengthOf(yield* bookings, 0)
      })
    )
  )

  it.effect("the caller's bookings are theirs only; the list is everyone's, latest stay first, paged", () =>
    run(
      Effect.gen(function* () {
        const service = yield* BookingsService
        yield* service.create(sessionOf(alice), stay(TWIN, "2026-03-12", "2026-03-13"), undefined)
        yield* service.create(sessionOf(bob), stay(TWIN, "2026-03-20", "2026-03-21"), undefined)
        yield* service.create(sessionOf(alice), stay(TWIN, "2026-03-15", "2026-03-16"), undefined)
        const mine = yield* service.mine(alice, {})
        assert.deepStrictEqual(
          mine.map((b) => [b.user_id, b.date_from]),
          [
            [alice.id, "2026-03-15"],
            [alice.id, "2026-03-12"]
          ]
        )
        const page = yield* service.list({ page: 1, per_page: 2 })
        assert.deepStrictEqual(
          page.map((b) => b.date_from),
          ["2026-03-20", "2026-03-15"]
        )
      })
    )
  )

  it.effect("Idempotency-Key: the same request again replays the answer and books once", () =>
    run(
      Effect.gen(function* () {
        const service = yield* BookingsService
        const first = yield* service.create(sessionOf(alice), stay(TWIN, "2026-03-12", "2026-03-14"), "k1")
        const again = yield* service.create(sessionOf(alice), stay(TWIN, "2026-03-12", "2026-03-14"), "k1")
        assert.deepStrictEqual(again, first)
        assert.lengthOf(yield* bookings, 1)
        assert.strictEqual(yield* created, 1)
        // the price of the key path is the room's price × nights, as the statement's
        assert.strictEqual((yield* bookings)[0]!.price, 1000)
        // keys are per user: Bob's "k1" is his own
        yield* service.create(sessionOf(bob), stay(TWIN, "2026-03-12", "2026-03-14"), "k1")
        assert.lengthOf(yield* bookings, 2)
      })
    )
  )

  it.effect("Idempotency-Key: reused for a different request is 422 naming the header; nothing booked", () =>
    run(
      Effect.gen(function* () {
        const service = yield* BookingsService
        yield* service.create(sessionOf(alice), stay(TWIN, "2026-03-12", "2026-03-14"), "k2")
        const reused = yield* Effect.flip(
          service.create(sessionOf(alice), stay(TWIN, "2026-03-12", "2026-03-15"), "k2")
        )
        const [issue] = (reused as unknown as { detail: ReadonlyArray<ValidationIssue> }).detail
        assert.deepStrictEqual(
          [reused._tag, issue!.type, issue!.loc, issue!.input],
          ["ValidationError", "idempotency_key_reused", ["header", "idempotency-key"], "k2"]
        )
        assert.lengthOf(yield* bookings, 1)
      })
    )
  )

  it.effect("Idempotency-Key: a refused request is not remembered, so the same key succeeds once it can", () =>
    run(
      Effect.gen(function* () {
        const service = yield* BookingsService
        yield* service.create(sessionOf(bob), stay(SINGLE, "2026-03-12", "2026-03-14"), undefined)
        const full = yield* Effect.flip(
          service.create(sessionOf(alice), stay(SINGLE, "2026-03-12", "2026-03-14"), "k3")
        )
        assert.strictEqual(full._tag, "RoomUnavailable")
        assert.strictEqual((yield* BookingsTables).keys.size, 0)
        yield* service.cancel(bob, (yield* bookings)[0]!.id)
        yield* service.create(sessionOf(alice), stay(SINGLE, "2026-03-12", "2026-03-14"), "k3")
        assert.deepStrictEqual(
          (yield* bookings).map((b) => b.user_id),
          [alice.id]
        )
      })
    )
  )

  it.effect(
    "the database's refusals as the repository reports them: a deadlock is retried; the inventory's CHECK is 409; an overflowing total 422",
    () =>
      run(
        Effect.gen(function* () {
          const service = yield* BookingsService
          const { failNext } = yield* BookingsTables
          for (const key of [undefined, "k4"]) {
            failNext.push(deadlock(), deadlock())
            yield* service.create(sessionOf(alice), stay(TWIN, "2026-03-12", "2026-03-13"), key)
          }
          assert.lengthOf(yield* bookings, 2)

          failNext.push(inventoryRefusal())
          const refused = yield* Effect.flip(
            service.create(sessionOf(bob), stay(SINGLE, "2026-03-12", "2026-03-13"), undefined)
          )
          assert.deepStrictEqual(problem(refused), { _tag: "RoomUnavailable", detail: Messages.roomSoldOut })

          failNext.push(numericOverflow())
          const overflow = yield* Effect.flip(
            service.create(sessionOf(bob), stay(SINGLE, "2026-03-12", "2026-03-13"), "k5")
          )
          const [issue] = (overflow as unknown as { detail: ReadonlyArray<ValidationIssue> }).detail
          assert.deepStrictEqual([overflow._tag, issue!.loc], ["ValidationError", ["body", "date_to"]])
          assert.include(issue!.msg, "2147483647")

          // four deadlocks in a row: the retries (3) are spent, and it is a defect (503 E-91), never a false answer
          failNext.push(deadlock(), deadlock(), deadlock(), deadlock())
          const exit = yield* Effect.exit(
            service.create(sessionOf(bob), stay(SINGLE, "2026-03-20", "2026-03-21"), undefined)
          )
          assert.isTrue(exit._tag === "Failure" && exit.cause._tag === "Die")
          assert.lengthOf(yield* bookings, 2)
        })
      )
  )

  it.effect(
    "D15: a key completed with the original's bare answer replays the booking read back; 404 once cancelled",
    () =>
      run(
        Effect.gen(function* () {
          const service = yield* BookingsService
          const first = yield* service.create(sessionOf(alice), stay(TWIN, "2026-03-12", "2026-03-14"), "legacy")
          const { keys } = yield* BookingsTables
          keys.get(`${alice.id}:legacy`)!.response = { status: "OK" }
          const again = yield* service.create(sessionOf(alice), stay(TWIN, "2026-03-12", "2026-03-14"), "legacy")
          assert.deepStrictEqual(again, first)
          yield* service.cancel(alice, first.id)
          const gone = yield* Effect.flip(
            service.create(sessionOf(alice), stay(TWIN, "2026-03-12", "2026-03-14"), "legacy")
          )
          assert.deepStrictEqual(problem(gone), { _tag: "NotFound", detail: Messages.bookingNotFound })
          assert.lengthOf(yield* bookings, 0)
        })
      )
  )
  it.effect(
    "DELETE keeps the booking as cancelled (BR-14): the owner and admins still read it; lists leave it out",
    () =>
      run(
        Effect.gen(function* () {
          const service = yield* BookingsService
          const { booking } = yield* service.create(
            sessionOf(alice),
            stay(SINGLE, "2026-03-12", "2026-03-14"),
            undefined
          )
          yield* service.cancel(alice, booking.id)
          const kept = yield* service.get(alice, booking.id)
          assert.deepStrictEqual(kept, new Booking({ ...booking, status: "cancelled" }))
          assert.deepStrictEqual(yield* service.get(admin, booking.id), kept)
          assert.lengthOf(yield* service.mine(alice, {}), 0)
          assert.deepStrictEqual(yield* service.mine(alice, { status: "cancelled" }), [kept])
          assert.deepStrictEqual(yield* service.list({ status: "cancelled" }), [kept])
          assert.lengthOf(yield* all, 1)
          // its nights are free again
          yield* service.create(sessionOf(bob), stay(SINGLE, "2026-03-12", "2026-03-14"), undefined)
        })
      )
  )

  it.effect("cancel command: the booking cancelled; DELETE's rights; a second time 409; a key replays it", () =>
    run(
      Effect.gen(function* () {
        const service = yield* BookingsService
        const { booking } = yield* service.create(sessionOf(alice), stay(TWIN, "2026-03-12", "2026-03-14"), undefined)
        const denied = yield* Effect.flip(service.cancelCommand(bob, booking.id, undefined))
        assert.deepStrictEqual(problem(denied), { _tag: "Forbidden", detail: Messages.bookingNotYours })
        const missing = yield* Effect.flip(service.cancelCommand(bob, booking.id + 100, undefined))
        assert.deepStrictEqual(problem(missing), { _tag: "NotFound", detail: Messages.bookingNotFound })
        const cancelled = yield* service.cancelCommand(alice, booking.id, "c1")
        assert.strictEqual(cancelled.status, "cancelled")
        assert.deepStrictEqual(yield* service.cancelCommand(alice, booking.id, "c1"), cancelled)
        const twice = yield* Effect.flip(service.cancelCommand(alice, booking.id, undefined))
        assert.deepStrictEqual(problem(twice), { _tag: "Conflict", detail: Messages.bookingCancelled })
        // DELETE of a cancelled booking is the 404 of a deleted one, as before
        assert.strictEqual((yield* Effect.flip(service.cancel(alice, booking.id)))._tag, "NotFound")
        // the key is the caller's for this request only
        const reused = yield* Effect.flip(service.cancelCommand(alice, booking.id + 1, "c1"))
        assert.strictEqual(reused._tag, "ValidationError")
        // an admin cancels anyone's
        const other = yield* service.create(sessionOf(bob), stay(TWIN, "2026-03-12", "2026-03-14"), undefined)
        assert.strictEqual((yield* service.cancelCommand(admin, other.id, undefined)).status, "cancelled")
      })
    )
  )

  it.effect(
    "change-dates: moves the stay and reprices it; its own nights count as its own; 409 names full nights",
    () =>
      run(
        Effect.gen(function* () {
          const service = yield* BookingsService
          const dates = (from: string, to: string) =>
            new BookingDates({ date_from: DateString.make(from), date_to: DateString.make(to) })
          const { booking } = yield* service.create(
            sessionOf(alice),
            stay(SINGLE, "2026-03-12", "2026-03-14"),
            undefined
          )
          // overlapping its own nights: fine on a room of one unit
          const moved = yield* service.changeDates(alice, booking.id, dates("2026-03-13", "2026-03-16"), undefined)
          assert.deepStrictEqual(
            [moved.date_from, moved.date_to, moved.price, moved.status],
            ["2026-03-13", "2026-03-16", 3000, "confirmed"]
          )
          // the night it left is free; the nights it took are not
          yield* service.create(sessionOf(bob), stay(SINGLE, "2026-03-12", "2026-03-13"), undefined)
          yield* service.create(sessionOf(bob), stay(SINGLE, "2026-03-17", "2026-03-19"), undefined)
          const full = yield* Effect.flip(
            service.changeDates(alice, booking.id, dates("2026-03-15", "2026-03-19"), "m1")
          )
          assert.deepStrictEqual(problem(full), {
            _tag: "RoomUnavailable",
            detail: Messages.nightsSoldOut(["2026-03-17", "2026-03-18"])
          })
          assert.strictEqual((yield* BookingsTables).keys.size, 0)
          assert.deepStrictEqual(yield* service.get(alice, booking.id), moved)
          // the rules of a booking's dates, and its rights
          const reversed = yield* Effect.flip(
            service.changeDates(alice, booking.id, dates("2026-03-16", "2026-03-15"), undefined)
          )
          assert.deepStrictEqual(problem(reversed), { _tag: "InvalidDateRange", detail: Messages.stayInvalid })
          const past = yield* Effect.flip(
            service.changeDates(alice, booking.id, dates("2026-03-09", "2026-03-11"), undefined)
          )
          assert.deepStrictEqual(problem(past), { _tag: "InvalidDateRange", detail: Messages.stayInPast })
          const long = yield* Effect.flip(
            service.changeDates(alice, booking.id, dates("2026-03-12", "2026-03-23"), undefined)
          )
          assert.strictEqual(long._tag, "ValidationError")
          const stranger = yield* Effect.flip(
            service.changeDates(bob, booking.id, dates("2026-03-20", "2026-03-21"), undefined)
          )
          assert.deepStrictEqual(problem(stranger), { _tag: "Forbidden", detail: Messages.forbidden })
          // a key replays the first answer, even once the stay moved on
          const once = yield* service.changeDates(alice, booking.id, dates("2026-03-20", "2026-03-21"), "m2")
          yield* service.changeDates(admin, booking.id, dates("2026-03-22", "2026-03-23"), undefined)
          assert.deepStrictEqual(
            yield* service.changeDates(alice, booking.id, dates("2026-03-20", "2026-03-21"), "m2"),
            once
          )
          // an aborted write is run again
          const { failNext } = yield* BookingsTables
          failNext.push(deadlock(), deadlock())
          const again = yield* service.changeDates(alice, booking.id, dates("2026-03-24", "2026-03-25"), undefined)
          assert.strictEqual(again.date_from, "2026-03-24")
          // a cancelled booking does not move
          yield* service.cancel(alice, booking.id)
          const cancelled = yield* Effect.flip(
            service.changeDates(alice, booking.id, dates("2026-03-26", "2026-03-27"), undefined)
          )
          assert.deepStrictEqual(problem(cancelled), { _tag: "Conflict", detail: Messages.bookingCancelled })
        })
      )
  )
})

/**
 * The bookings tables in memory — `rooms` (price, quantity), `bookings`, `idempotency_keys` — behind the real
 * `BookingsRepo` and `IdempotencyKeys` Tags. A night is sold out when the bookings in the house that night
 * reach the room's quantity; `withTransaction` rolls every table back when the effect fails, as PostgreSQL
 * would. `failNext` makes the next write fail with the given `SqlError`s (a deadlock, the inventory's CHECK…)
 * so the service's reading of them is tested. The SQL itself (locks, triggers, the inventory) is proved by
 * `../Bookings*.test.ts` on PostgreSQL.
 */
import { SqlError } from "@effect/sql/SqlError"
import { Booking } from "@shum/domain/Bookings"
import { DateString } from "@shum/domain/Common"
import { Context, Effect, Exit, Layer, Option } from "effect"
import { type Claim, IdempotencyKeys } from "../../../src/Bookings/IdempotencyKeys.js"
import { INVENTORY_CONSTRAINT } from "../../../src/Bookings/InventoryCheck.js"
import { BookingsRepo, type NewBooking } from "../../../src/Bookings/BookingsRepo.js"
import { partial } from "./Partial.js"

interface KeyRow {
  readonly hash: string
  response: unknown
  bookingId: number | null
}

export interface BookingsState {
  rooms: Map<number, { readonly price: number; readonly quantity: number }>
  bookings: Array<Booking>
  keys: Map<string, KeyRow>
  nextId: number
  /** Failures the next writes (`book`, `insert`) meet, first one first. */
  readonly failNext: Array<SqlError>
}

export class BookingsTables extends Context.Tag("test/BookingsTables")<BookingsTables, BookingsState>() {}

/** A PostgreSQL error as `@effect/sql-pg` reports it: the driver's error, with its SQLSTATE, as the cause. */
export const pgError = (code: string, constraint?: string) =>
  new SqlError({ message: `fake SQLSTATE ${code}`, cause: { code, ...(constraint ? { constraint } : {}) } })

export const deadlock = () => pgError("40P01")
export const inventoryRefusal = () => pgError("23514", INVENTORY_CONSTRAINT)
export const numericOverflow = () => pgError("22003")

const DAY_MS = 86_400_000
const nights = (from: string, to: string) => {
  const out: Array<string> = []
  for (let t = Date.parse(from); t < Date.parse(to); t += DAY_MS) out.push(new Date(t).toISOString().slice(0, 10))
  return out
}

const BookingsRepoMemory = Layer.effect(
  BookingsRepo,
  Effect.map(BookingsTables, (state) => {
    const injected = Effect.suspend(() => {
      const failure = state.failNext.shift()
      return failure === undefined ? Effect.void : Effect.fail(failure)
    })
    const soldOutNight = (roomId: number, from: string, to: string, quantity: number) =>
      nights(from, to).some(
        (night) =>
          state.bookings.filter((b) => b.room_id === roomId && b.date_from <= night && night < b.date_to).length >=
          quantity
      )
    const add = (booking: NewBooking) => {
      const row = new Booking({
        id: state.nextId++,
        room_id: booking.roomId,
        user_id: booking.userId,
        date_from: DateString.make(booking.from),
        date_to: DateString.make(booking.to),
        price: booking.price,
        created_at: "2026-03-10T12:00:00Z"
      })
      state.bookings = [...state.bookings, row]
      return row
    }
    return partial<BookingsRepo>("BookingsRepo", {
      lockRoom: (roomId) => Effect.sync(() => Option.fromNullable(state.rooms.get(roomId))),
      reserveNights: (roomId, from, to, quantity) => Effect.sync(() => !soldOutNight(roomId, from, to, quantity)),
      insert: (booking) =>
        Effect.zipRight(
          injected,
          Effect.sync(() => add(booking))
        ),
      book: (booking) =>
        Effect.zipRight(
          injected,
          Effect.sync(() => {
            const room = state.rooms.get(booking.roomId)
            if (room === undefined) return { roomFound: false, booking: undefined }
            if (soldOutNight(booking.roomId, booking.from, booking.to, room.quantity)) {
              return { roomFound: true, booking: undefined }
            }
            const price = room.price * nights(booking.from, booking.to).length
            return { roomFound: true, booking: add({ ...booking, price }) }
          })
        ),
      findById: (id) => Effect.sync(() => Option.fromNullable(state.bookings.find((b) => b.id === id))),
      findOwner: (id) =>
        Effect.sync(() => Option.map(Option.fromNullable(state.bookings.find((b) => b.id === id)), (b) => b.user_id)),
      remove: (id) =>
        Effect.sync(() => {
          const before = state.bookings.length
          state.bookings = state.bookings.filter((b) => b.id !== id)
          return state.bookings.length < before
        }),
      list: ({ limit, offset, userId }) =>
        Effect.sync(() =>
          state.bookings
            .filter((b) => userId === undefined || b.user_id === userId)
            .sort((a, b) => (a.date_from === b.date_from ? b.id - a.id : a.date_from < b.date_from ? 1 : -1))
            .slice(offset, offset + limit)
        ),
      // all or nothing: the tables as they were when the effect fails
      withTransaction: (self) =>
        Effect.suspend(() => {
          const saved = {
            bookings: state.bookings,
            keys: new Map([...state.keys].map(([key, row]) => [key, { ...row }])),
            nextId: state.nextId
          }
          return Effect.onExit(self, (exit) =>
            Effect.sync(() => {
              if (Exit.isFailure(exit)) Object.assign(state, saved)
            })
          )
        })
    })
  })
)

const IdempotencyKeysMemory = Layer.effect(
  IdempotencyKeys,
  Effect.map(BookingsTables, (state) =>
    partial<IdempotencyKeys>("IdempotencyKeys", {
      claim: (userId, key, hash) =>
        Effect.sync((): Claim => {
          const seen = state.keys.get(`${userId}:${key}`)
          if (seen === undefined) {
            state.keys.set(`${userId}:${key}`, { hash, response: null, bookingId: null })
            return { _tag: "Claimed" }
          }
          return seen.hash === hash
            ? { _tag: "Replay", response: seen.response, bookingId: seen.bookingId }
            : { _tag: "Mismatch" }
        }),
      complete: (userId, key, bookingId, response) =>
        Effect.sync(() => {
          const row = state.keys.get(`${userId}:${key}`)!
          row.bookingId = bookingId
          row.response = response
        })
    })
  )
)

/** Both fakes over one state; `rooms` exist from the start (id → price per night, quantity). */
export const BookingsMemory = (rooms: Record<number, { readonly price: number; readonly quantity: number }>) =>
  Layer.merge(BookingsRepoMemory, IdempotencyKeysMemory).pipe(
    Layer.provideMerge(
      Layer.sync(BookingsTables, () => ({
        rooms: new Map(Object.entries(rooms).map(([id, room]) => [Number(id), room])),
        bookings: [],
        keys: new Map(),
        nextId: 1,
        failNext: []
      }))
    )
  )

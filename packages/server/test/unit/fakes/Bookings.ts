/**
 * The bookings tables in memory — `rooms` (price, quantity), `bookings`, `idempotency_keys` — behind the real
 * `BookingsRepo` Tag. `book` judges as the database function `book_stay` does (migration 0007), in its order:
 * the key, the room, the dates, the nights (sold out when the bookings in the house that night reach the
 * room's quantity), the total; a refusal leaves no key behind. `failNext` makes the next `book` answer with what
 * the repository makes of a database refusal (an aborted write, the inventory's CHECK, an overflowing total), so
 * the service's reading of them is tested. The SQL itself (locks, triggers, the inventory) is proved by
 * `../Bookings*.test.ts` on PostgreSQL.
 */
import { SqlError } from "@effect/sql/SqlError"
import { Booking, BookingCreated } from "@shum/domain/Bookings"
import { DateString, INT32 } from "@shum/domain/Common"
import { Context, Effect, Layer, Option } from "effect"
import { BookingsRepo, BookingWriteAborted, type BookOutcome } from "../../../src/Bookings/BookingsRepo.js"
import { partial } from "./Partial.js"

interface KeyRow {
  readonly hash: string
  response: unknown
  bookingId: number | null
}

/** What the next `book` meets instead of running: an aborted write, or the outcome a refusal is read as. */
export type Injected = BookingWriteAborted | BookOutcome

export interface BookingsState {
  rooms: Map<number, { readonly price: number; readonly quantity: number }>
  bookings: Array<Booking>
  keys: Map<string, KeyRow>
  nextId: number
  /** What the next calls of `book` meet, first one first. */
  readonly failNext: Array<Injected>
}

export class BookingsTables extends Context.Tag("test/BookingsTables")<BookingsTables, BookingsState>() {}

/** A PostgreSQL error as `@effect/sql-pg` reports it: the driver's error, with its SQLSTATE, as the cause. */
const pgError = (code: string, constraint?: string) =>
  new SqlError({ message: `fake SQLSTATE ${code}`, cause: { code, ...(constraint ? { constraint } : {}) } })

/** A deadlock (40P01), as the repository reports it. */
export const deadlock = (): Injected => new BookingWriteAborted({ cause: pgError("40P01") })
/** The inventory's CHECK refusing a night filled meanwhile (23514), as the repository reads it. */
export const inventoryRefusal = (): Injected => ({ _tag: "SoldOut", nights: [] })
/** A total above `integer` (what PostgreSQL would refuse with 22003), as the repository reports it. */
export const numericOverflow = (): Injected => ({ _tag: "TotalTooLarge" })

const DAY_MS = 86_400_000
const nights = (from: string, to: string) => {
  const out: Array<string> = []
  for (let t = Date.parse(from); t < Date.parse(to); t += DAY_MS) out.push(new Date(t).toISOString().slice(0, 10))
  return out
}

const BookingsRepoMemory = Layer.effect(
  BookingsRepo,
  Effect.map(BookingsTables, (state) => {
    const fullNights = (roomId: number, from: string, to: string, quantity: number) =>
      nights(from, to).filter(
        (night) =>
          state.bookings.filter((b) => b.room_id === roomId && b.date_from <= night && night < b.date_to).length >=
          quantity
      )
    const add = (roomId: number, userId: number, from: string, to: string, price: number) => {
      const row = new Booking({
        id: state.nextId++,
        room_id: roomId,
        user_id: userId,
        date_from: DateString.make(from),
        date_to: DateString.make(to),
        price,
        created_at: "2026-03-10T12:00:00Z"
      })
      state.bookings = [...state.bookings, row]
      return row
    }
    const judge: BookingsRepo["book"] = (request) =>
      Effect.sync((): BookOutcome => {
        const room = state.rooms.get(request.roomId)
        if (room === undefined) return { _tag: "RoomNotFound" }
        if (request.from >= request.to) return { _tag: "StayInvalid" }
        if (request.from < request.today) return { _tag: "StayInPast" }
        const full = fullNights(request.roomId, request.from, request.to, room.quantity)
        if (full.length > 0) return { _tag: "SoldOut", nights: full }
        const total = room.price * nights(request.from, request.to).length
        if (total > INT32.maximum) return { _tag: "TotalTooLarge" }
        const booking = add(request.roomId, request.userId, request.from, request.to, total)
        return { _tag: "Booked", answer: new BookingCreated({ status: "OK", id: booking.id, booking }) }
      })
    const book: BookingsRepo["book"] = (request) =>
      Effect.suspend(() => {
        const injected = state.failNext.shift()
        if (injected !== undefined) {
          return injected instanceof BookingWriteAborted ? Effect.fail(injected) : Effect.succeed(injected)
        }
        const { idempotency } = request
        if (idempotency === undefined) return judge(request)
        const id = `${request.userId}:${idempotency.key}`
        const seen = state.keys.get(id)
        if (seen !== undefined) {
          return Effect.succeed<BookOutcome>(
            seen.hash === idempotency.hash
              ? { _tag: "Replayed", stored: seen.response, bookingId: seen.bookingId }
              : { _tag: "KeyReused" }
          )
        }
        return Effect.tap(judge(request), (outcome) =>
          Effect.sync(() => {
            // only a booking is remembered (with the answer as the database stores it: its JSON)
            if (outcome._tag === "Booked") {
              state.keys.set(id, {
                hash: idempotency.hash,
                response: JSON.parse(JSON.stringify(outcome.answer)),
                bookingId: outcome.answer.id
              })
            }
          })
        )
      })
    return partial<BookingsRepo>("BookingsRepo", {
      book,
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
        )
    })
  })
)

/** The fake over its tables; `rooms` exist from the start (id → price per night, quantity). */
export const BookingsMemory = (rooms: Record<number, { readonly price: number; readonly quantity: number }>) =>
  BookingsRepoMemory.pipe(
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

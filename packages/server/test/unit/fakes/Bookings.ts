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
import { Context, Effect, Layer, Option, Schema } from "effect"
import {
  BookingsRepo,
  BookingWriteAborted,
  type BookOutcome,
  type CommandCaller,
  type CommandOutcome
} from "../../../src/Bookings/BookingsRepo.js"
import { inStatement } from "../../../src/Auth/DeferredSession.js"
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
    /** The nights without a unit free; `except`: a booking whose own units do not count (a stay being moved). */
    const fullNights = (roomId: number, from: string, to: string, quantity: number, except?: number) =>
      nights(from, to).filter(
        (night) =>
          state.bookings.filter(
            (b) =>
              b.id !== except &&
              b.status === "confirmed" &&
              b.room_id === roomId &&
              b.date_from <= night &&
              night < b.date_to
          ).length >= quantity
      )
    const add = (roomId: number, userId: number, from: string, to: string, price: number) => {
      const row = new Booking({
        id: state.nextId++,
        room_id: roomId,
        user_id: userId,
        date_from: DateString.make(from),
        date_to: DateString.make(to),
        price,
        created_at: "2026-03-10T12:00:00Z",
        status: "confirmed"
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
    /** Claims the key around a command, as `claim_idempotency_key` does: only a done command is remembered. */
    const withKey = (
      userId: number,
      idempotency: { readonly key: string; readonly hash: string } | undefined,
      run: () => CommandOutcome
    ): Effect.Effect<CommandOutcome> =>
      Effect.sync(() => {
        const id = idempotency === undefined ? undefined : `${userId}:${idempotency.key}`
        const seen = id === undefined ? undefined : state.keys.get(id)
        if (seen !== undefined) {
          return seen.hash === idempotency!.hash
            ? { _tag: "Replayed", booking: Schema.decodeUnknownSync(Booking)(seen.response) }
            : { _tag: "KeyReused" }
        }
        const outcome = run()
        if (outcome._tag === "Done" && id !== undefined) {
          state.keys.set(id, {
            hash: idempotency!.hash,
            response: Schema.encodeSync(Booking)(outcome.booking),
            bookingId: outcome.booking.id
          })
        }
        return outcome
      })
    const replace = (booking: Booking, changes: Partial<Booking>) => {
      const changed = new Booking({ ...booking, ...changes })
      state.bookings = state.bookings.map((b) => (b.id === booking.id ? changed : b))
      return changed
    }
    /** The booking the caller may command, or why not. */
    const commanded = (request: CommandCaller): Booking | CommandOutcome => {
      const booking = state.bookings.find((b) => b.id === request.bookingId)
      if (booking === undefined) return { _tag: "BookingNotFound" }
      if (booking.user_id !== request.userId && !request.admin) return { _tag: "NotYours" }
      return booking
    }
    const cancel: BookingsRepo["cancel"] = (request) =>
      withKey(request.userId, request.idempotency, () => {
        const booking = commanded(request)
        if (!(booking instanceof Booking)) return booking
        if (booking.status === "cancelled") {
          return request.cancelledIsMissing ? { _tag: "BookingNotFound" } : { _tag: "AlreadyCancelled" }
        }
        return { _tag: "Done", booking: replace(booking, { status: "cancelled" }) }
      })
    const changeDates: BookingsRepo["changeDates"] = (request) =>
      Effect.suspend(() => {
        const injected = state.failNext.shift()
        if (injected !== undefined)
          return injected instanceof BookingWriteAborted ? Effect.fail(injected) : Effect.die(injected)
        return withKey(request.userId, request.idempotency, (): CommandOutcome => {
          const booking = commanded(request)
          if (!(booking instanceof Booking)) return booking
          if (booking.status === "cancelled") return { _tag: "AlreadyCancelled" }
          if (request.from >= request.to) return { _tag: "StayInvalid" }
          if (request.from < request.today) return { _tag: "StayInPast" }
          if (request.from === booking.date_from && request.to === booking.date_to)
            return { _tag: "Done", booking, unchanged: true }
          const room = state.rooms.get(booking.room_id)!
          const full = fullNights(booking.room_id, request.from, request.to, room.quantity, booking.id)
          if (full.length > 0) return { _tag: "SoldOut", nights: full }
          const total = room.price * nights(request.from, request.to).length
          if (total > INT32.maximum) return { _tag: "TotalTooLarge" }
          return {
            _tag: "Done",
            booking: replace(booking, {
              date_from: DateString.make(request.from),
              date_to: DateString.make(request.to),
              price: total
            })
          }
        })
      })
    // as `book_stay_in_session`: the session checked first (a fake session always stands), then `book`
    const bookInSession: BookingsRepo["bookInSession"] = (session, request) =>
      inStatement(session, (caller) =>
        Effect.map(book({ ...request, userId: caller.userId }), (outcome) => [
          { outcome: outcome._tag, outcome_: outcome }
        ])
      ).pipe(Effect.map((rows) => rows[0]!.outcome_))
    return partial<BookingsRepo>("BookingsRepo", {
      book,
      bookInSession,
      cancel,
      changeDates,
      findById: (id) => Effect.sync(() => Option.fromNullable(state.bookings.find((b) => b.id === id))),
      list: ({ limit, offset, status, userId }) =>
        Effect.sync(() =>
          state.bookings
            .filter((b) => b.status === status && (userId === undefined || b.user_id === userId))
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

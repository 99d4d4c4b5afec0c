/**
 * Room types of a hotel (docs/api.md §8.6; docs/data.md BR-3) and a hotel's free rooms (R2, D2).
 * A write with facilities is one transaction: an unknown facility leaves nothing behind.
 */
import { pageOf } from "@shum/domain/Common"
import { BadRequest, Conflict, NotFound } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import type { RoomsQuery, StayQuery } from "@shum/domain/Params"
import type { RoomIn, RoomPatch } from "@shum/domain/Rooms"
import { Outbox } from "@shum/infra/Outbox"
import { Array, Effect, Option } from "effect"
import { type AuditedWrite, AuditTrail, type Changes } from "../Audit/AuditTrail.js"
import { AvailabilitySearch } from "./AvailabilitySearch.js"
import { retryDelete } from "./CascadeEvents.js"
import { StayLimits } from "../Bookings/StayLimits.js"
import { ensureSearchPeriod } from "./SearchPeriod.js"
import { HotelsRepo } from "./HotelsRepo.js"
import { type RoomFields, RoomsRepo } from "./RoomsRepo.js"

export class RoomsService extends Effect.Service<RoomsService>()("server/RoomsService", {
  effect: Effect.gen(function* () {
    const repo = yield* RoomsRepo
    const hotels = yield* HotelsRepo
    const search = yield* AvailabilitySearch
    const limits = yield* StayLimits
    // every admin write leaves its audit row, in its transaction (docs/decisions.md D17)
    const audit = yield* AuditTrail
    const outbox = yield* Outbox

    /**
     * A change of the room (its columns or its facilities): audited, and `room.updated` carries the same
     * before/after of the changed fields (docs/decisions.md D16); a write that changes nothing records neither.
     */
    const updated = (hotelId: number, roomId: number): AuditedWrite<void> => ({
      action: "room.updated",
      entity: "room",
      id: roomId,
      onChanges: (changes: Changes) => outbox.record("room.updated", { id: roomId, hotel_id: hotelId, changes })
    })

    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      effect.pipe(audit.transaction, Effect.catchTag("SqlError", Effect.die))

    /** A room's columns written; a quantity below what some night has taken → 409 (docs/decisions.md D2). */
    const write = (roomId: number, fields: RoomFields) =>
      repo
        .update(roomId, fields)
        .pipe(Effect.catchTag("QuantityBelowTaken", () => new Conflict({ detail: Messages.roomQuantityBelowSold })))

    /** Reads: E-12. */
    const ensureHotelForRead = (hotelId: number) =>
      Effect.flatMap(hotels.exists(hotelId), (exists) =>
        exists ? Effect.void : Effect.fail(new NotFound({ detail: Messages.hotelNotFound }))
      )

    /** Writes: E-10 for the hotel. */
    const ensureHotelForWrite = (hotelId: number) =>
      Effect.flatMap(hotels.exists(hotelId), (exists) =>
        exists ? Effect.void : Effect.fail(new NotFound({ detail: Messages.entityNotFound("Отель", hotelId) }))
      )

    /** R5–R7: hotel (E-10) → room (E-10, or E-17 for DELETE) → the room belongs to the hotel, else 400 E-18. */
    const ensureOwnedRoom = (hotelId: number, roomId: number, roomMissing: string) =>
      Effect.gen(function* () {
        yield* ensureHotelForWrite(hotelId)
        const owner = yield* repo.findHotelId(roomId)
        if (Option.isNone(owner)) return yield* new NotFound({ detail: roomMissing })
        if (owner.value.hotel_id !== hotelId) return yield* new BadRequest({ detail: Messages.roomOfAnotherHotel })
      })

    /** Distinct ids, every one existing (else 404 for the first unknown, in the order given). */
    const checkedFacilities = (ids: ReadonlyArray<number>) =>
      Effect.gen(function* () {
        const distinct = Array.dedupe(ids)
        const [missing] = yield* repo.missingFacilities(distinct)
        if (missing !== undefined) return yield* new NotFound({ detail: Messages.entityNotFound("Удобство", missing) })
        return distinct
      })

    /** R1: E-12, else the page of the hotel's rooms (one statement). */
    const list = (hotelId: number, query: typeof RoomsQuery.Type) =>
      Effect.flatMap(repo.listByHotel(hotelId, { ...pageOf(query), title: query.title }), (rooms) =>
        Option.isSome(rooms)
          ? Effect.succeed(rooms.value)
          : Effect.fail(new NotFound({ detail: Messages.hotelNotFound }))
      )

    /**
     * R2: dates (422 beyond the stay limits, D11; 400 E-40) before the hotel (404 E-12); every free room type
     * of the hotel, not paginated, as JSON bytes (`AvailabilitySearch.ts`).
     */
    const available = (hotelId: number, query: typeof StayQuery.Type) =>
      Effect.zipRight(
        ensureSearchPeriod(limits, query),
        Effect.flatMap(search.rooms(hotelId, query.date_from, query.date_to), (body) =>
          Option.isSome(body)
            ? Effect.succeed(body.value)
            : Effect.fail(new NotFound({ detail: Messages.hotelNotFound }))
        )
      )

    /** R3: hotel E-12 → room E-17 → another hotel's room 404 E-18. */
    const get = Effect.fn("Rooms.get")(function* (hotelId: number, roomId: number) {
      yield* ensureHotelForRead(hotelId)
      const room = yield* repo.findById(roomId)
      if (Option.isNone(room)) return yield* new NotFound({ detail: Messages.roomNotFound })
      if (room.value.hotel_id !== hotelId) return yield* new NotFound({ detail: Messages.roomOfAnotherHotel })
      return room.value
    })

    /** R4: hotel → facilities → insert room and links, atomically. */
    const create = (hotelId: number, body: RoomIn) =>
      transaction(
        audit.write(
          { action: "room.created", entity: "room", idOf: (id) => id },
          Effect.gen(function* () {
            yield* ensureHotelForWrite(hotelId)
            const facilityIds = yield* checkedFacilities(body.facility_ids ?? [])
            const roomId = yield* repo.insert(hotelId, {
              title: body.title,
              description: body.description ?? null,
              price: body.price,
              quantity: body.quantity
            })
            if (facilityIds.length > 0) yield* repo.setFacilities(roomId, facilityIds)
            return roomId
          })
        )
      ).pipe(Effect.withSpan("Rooms.create"))

    /**
     * R5: checks → facilities → write. A `null` description keeps the stored one; `facility_ids` absent or
     * `null` keeps the links, `[]` removes them, a list replaces them.
     */
    const update = (hotelId: number, roomId: number, body: RoomIn) =>
      transaction(
        Effect.gen(function* () {
          yield* ensureOwnedRoom(hotelId, roomId, Messages.entityNotFound("Номер", roomId))
          yield* audit.write(
            updated(hotelId, roomId),
            Effect.gen(function* () {
              const facilityIds =
                body.facility_ids === undefined || body.facility_ids === null
                  ? undefined
                  : yield* checkedFacilities(body.facility_ids)
              yield* write(roomId, {
                title: body.title,
                description: body.description ?? undefined,
                price: body.price,
                quantity: body.quantity
              })
              if (facilityIds !== undefined) yield* repo.setFacilities(roomId, facilityIds)
            })
          )
        })
      ).pipe(Effect.withSpan("Rooms.update"))

    /** R6: writes what is sent (a `null` description clears it); `facility_ids` is ignored, as in the original. */
    const patch = Effect.fn("Rooms.patch")(function* (hotelId: number, roomId: number, body: RoomPatch) {
      yield* ensureOwnedRoom(hotelId, roomId, Messages.entityNotFound("Номер", roomId))
      yield* audit.write(
        updated(hotelId, roomId),
        write(roomId, {
          title: body.title,
          description: body.description,
          price: body.price,
          quantity: body.quantity
        })
      )
    })

    /** R7: hotel E-10 → room E-17 → another hotel's room 400 E-18; bookings and links go by cascade. */
    const remove = Effect.fn("Rooms.remove")(function* (hotelId: number, roomId: number) {
      yield* ensureOwnedRoom(hotelId, roomId, Messages.roomNotFound)
      yield* audit
        .write({ action: "room.deleted", entity: "room", id: roomId }, repo.remove(roomId))
        .pipe(retryDelete("room delete"))
    })

    return { list, available, get, create, update, patch, remove } as const
  }),
  dependencies: [
    RoomsRepo.Default,
    HotelsRepo.Default,
    AvailabilitySearch.Default,
    StayLimits.Default,
    AuditTrail.Default,
    Outbox.Default
  ]
}) {}

/**
 * The free rooms of a stay, for both availability searches (API.md H2, R2), counted by `Availability`
 * per night (D2): only room types with at least one unit free on every night, each with `quantity` = the
 * smallest number of free units over the nights.
 */
import { InvalidDateRange } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { AvailableRoom, type Room } from "@shum/domain/Rooms"
import { Effect } from "effect"
import type { Availability } from "../Bookings/Availability.js"

/** E-40: `date_from` must be before `date_to` (`YYYY-MM-DD` compares as text). */
export const ensurePeriod = (from: string, to: string) =>
  from < to ? Effect.void : Effect.fail(new InvalidDateRange({ detail: Messages.periodInvalid }))

/** One availability statement for all the rooms, whatever their number. */
export const freeRooms = (
  availability: typeof Availability.Service,
  rooms: ReadonlyArray<Room>,
  from: string,
  to: string
): Effect.Effect<ReadonlyArray<AvailableRoom>> =>
  Effect.map(
    availability.freeUnits(
      rooms.map((room) => room.id),
      from,
      to
    ),
    (free) =>
      rooms.flatMap((room) => {
        const units = free.get(room.id) ?? 0
        // `room` was decoded and `units` is a count: no need to validate every field again (`true`)
        return units > 0 ? [new AvailableRoom({ ...room, quantity: units }, true)] : []
      })
  )

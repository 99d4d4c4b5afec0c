/**
 * Hotels (docs/api.md §8.5; docs/data.md BR-1, BR-2, BR-10) and the availability search across hotels (H2, D2).
 */
import { pageOf } from "@shum/domain/Common"
import { Conflict, NotFound } from "@shum/domain/Errors"
import type { HotelIn, HotelPatch } from "@shum/domain/Hotels"
import { Messages } from "@shum/domain/Messages"
import type { AvailableHotelsQuery, HotelsQuery } from "@shum/domain/Params"
import { Outbox } from "@shum/infra/Outbox"
import { Effect, Option } from "effect"
import { type AuditedWrite, AuditTrail, type Changes } from "../Audit/AuditTrail.js"
import { Metrics } from "../Metrics.js"
import { AvailabilitySearch } from "./AvailabilitySearch.js"
import { retryDelete } from "./CascadeEvents.js"
import { StayLimits } from "../Bookings/StayLimits.js"
import { ensureSearchPeriod } from "./SearchPeriod.js"
import { DEFAULT_CHECK_IN, DEFAULT_CHECK_OUT, HotelsRepo } from "./HotelsRepo.js"

export class HotelsService extends Effect.Service<HotelsService>()("server/HotelsService", {
  effect: Effect.gen(function* () {
    const repo = yield* HotelsRepo
    const search = yield* AvailabilitySearch
    const metrics = yield* Metrics
    const limits = yield* StayLimits
    // every admin write leaves its audit row, in its transaction (docs/decisions.md D17)
    const audit = yield* AuditTrail
    const outbox = yield* Outbox

    /**
     * A change of the hotel's row: audited, and `hotel.updated` carries the same before/after of the changed
     * fields (docs/decisions.md D16); a write that changes nothing records neither.
     */
    const updated = (id: number): AuditedWrite<void> => ({
      action: "hotel.updated",
      entity: "hotel",
      id,
      onChanges: (changes: Changes) => outbox.record("hotel.updated", { id, hotel_id: id, changes })
    })

    const hotelNotFound = (id: number) => new NotFound({ detail: Messages.entityNotFound("Отель", id) })

    /** E-11; the lowest id wins when several cities share the name (see `HotelsRepo.cityIdByName`). */
    const cityId = (name: string) =>
      Effect.flatMap(repo.cityIdByName(name), (found) =>
        Option.isSome(found)
          ? Effect.succeed(found.value.id)
          : Effect.fail(new NotFound({ detail: Messages.cityByNameNotFound(name) }))
      )

    const ensureTitleFree = (title: string, exceptId?: number) =>
      Effect.flatMap(repo.titleTaken(title, exceptId), (taken) =>
        taken ? Effect.fail(new Conflict({ detail: Messages.hotelTitleTaken(title) })) : Effect.void
      )

    const list = (query: typeof HotelsQuery.Type) => repo.list({ ...query, ...pageOf(query) })

    /**
     * H2: dates (422 beyond the stay limits, D11; 400 E-40), then the page of hotels with their free rooms, as
     * JSON bytes (`AvailabilitySearch.ts`).
     */
    const available = (query: typeof AvailableHotelsQuery.Type) =>
      Effect.zipRight(
        ensureSearchPeriod(limits, query),
        search.hotels(
          { ...pageOf(query), title: query.title, city: query.city, hotel_id: query.hotel_id },
          query.date_from,
          query.date_to
        )
      )

    const get = (id: number) =>
      Effect.flatMap(repo.findById(id), (found) =>
        Option.isSome(found)
          ? Effect.succeed(found.value)
          : Effect.fail(new NotFound({ detail: Messages.hotelNotFound }))
      )

    /** H4: city → title; absent or `null` times take the defaults. */
    const create = Effect.fn("Hotels.create")(function* (body: HotelIn) {
      const city_id = yield* cityId(body.city)
      yield* ensureTitleFree(body.title)
      const id = yield* audit.write(
        { action: "hotel.created", entity: "hotel", idOf: (id) => id },
        repo.insert({
          title: body.title,
          city_id,
          address: body.address,
          postal_code: body.postal_code ?? null,
          check_in_time: body.check_in_time ?? DEFAULT_CHECK_IN,
          check_out_time: body.check_out_time ?? DEFAULT_CHECK_OUT
        })
      )
      yield* Effect.sync(() => metrics.counters.hotelsCreated.inc())
      return id
    })

    /** H5, full replacement: hotel → city → title. Absent times reset to the defaults, `null` stores null. */
    const update = Effect.fn("Hotels.update")(function* (id: number, body: HotelIn) {
      const current = yield* repo.findRow(id)
      if (Option.isNone(current)) return yield* hotelNotFound(id)
      const city_id = yield* cityId(body.city)
      if (body.title !== current.value.title) yield* ensureTitleFree(body.title, id)
      yield* audit.write(
        updated(id),
        repo.update(id, {
          title: body.title,
          city_id,
          address: body.address,
          postal_code: body.postal_code ?? null,
          check_in_time: body.check_in_time === undefined ? DEFAULT_CHECK_IN : body.check_in_time,
          check_out_time: body.check_out_time === undefined ? DEFAULT_CHECK_OUT : body.check_out_time
        })
      )
    })

    /** H6: hotel → title → city; only non-null fields are written (nothing can be cleared). */
    const patch = Effect.fn("Hotels.patch")(function* (id: number, body: HotelPatch) {
      const current = yield* repo.findRow(id)
      if (Option.isNone(current)) return yield* hotelNotFound(id)
      const title = body.title ?? undefined
      if (title !== undefined && title !== current.value.title) yield* ensureTitleFree(title, id)
      const city_id = body.city === undefined || body.city === null ? undefined : yield* cityId(body.city)
      yield* audit.write(
        updated(id),
        repo.update(id, {
          title,
          city_id,
          address: body.address ?? undefined,
          postal_code: body.postal_code ?? undefined,
          check_in_time: body.check_in_time ?? undefined,
          check_out_time: body.check_out_time ?? undefined
        })
      )
    })

    /** H7: rooms, their bookings and links, and image links go by cascade (run again when aborted). */
    const remove = (id: number) =>
      audit
        .write(
          { action: "hotel.deleted", entity: "hotel", id },
          Effect.flatMap(repo.remove(id), (removed) =>
            removed ? Effect.void : Effect.fail(new NotFound({ detail: Messages.hotelNotFound }))
          )
        )
        .pipe(retryDelete("hotel delete"))

    return { list, available, get, create, update, patch, remove } as const
  }),
  dependencies: [HotelsRepo.Default, AvailabilitySearch.Default, StayLimits.Default, AuditTrail.Default, Outbox.Default]
}) {}

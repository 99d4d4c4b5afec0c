/**
 * Cities (docs/api.md §8.3; docs/data.md BR-1, BR-10, BR-11): the `cities` table and its use cases.
 */
import { pageOf } from "@shum/domain/Common"
import { Conflict, IntegrityViolation, NotFound } from "@shum/domain/Errors"
import { type CityIn, type CityPatch } from "@shum/domain/Geo"
import { Messages } from "@shum/domain/Messages"
import type { CitiesQuery } from "@shum/domain/Params"
import { Effect, Option } from "effect"
import { AuditTrail } from "../Audit/AuditTrail.js"
import { CitiesRepo } from "./CitiesRepo.js"
import { CountriesRepo } from "./CountriesRepo.js"

export class CitiesService extends Effect.Service<CitiesService>()("server/CitiesService", {
  effect: Effect.gen(function* () {
    const repo = yield* CitiesRepo
    const countries = yield* CountriesRepo
    // every admin write leaves its audit row, in its transaction (docs/decisions.md D17)
    const audit = yield* AuditTrail

    const countryNotFound = (id: number) => new NotFound({ detail: Messages.entityNotFound("Страна", id) })
    const cityNotFound = (id: number) => new NotFound({ detail: Messages.entityNotFound("Город", id) })

    const ensureNameFree = (name: string, countryId: number, exceptId?: number) =>
      Effect.flatMap(repo.nameTaken(name, countryId, exceptId), (taken) =>
        taken ? Effect.fail(new Conflict({ detail: Messages.cityNameTaken(name) })) : Effect.void
      )

    const list = (query: typeof CitiesQuery.Type) =>
      repo.list({ ...pageOf(query), name: query.name, country_id: query.country_id })

    const get = (id: number) =>
      Effect.flatMap(repo.findById(id), (found) =>
        Option.isSome(found)
          ? Effect.succeed(found.value)
          : Effect.fail(new NotFound({ detail: Messages.cityNotFoundNeuter }))
      )

    /** Y3: unknown country → 404; the same exact name in that country → 409. */
    const create = Effect.fn("Cities.create")(function* (body: CityIn) {
      if (!(yield* countries.exists(body.country_id))) return yield* countryNotFound(body.country_id)
      yield* ensureNameFree(body.name, body.country_id)
      return yield* audit.write(
        { action: "city.created", entity: "city", idOf: (id) => id },
        repo.insert({ name: body.name, country_id: body.country_id })
      )
    })

    /**
     * Y4/Y5: city → country → uniqueness of the final (name, country) pair among the other cities. Y5's
     * DEFECT is fixed here: the original crashed (500) when the name stayed the same.
     */
    const write = Effect.fn("Cities.write")(function* (
      id: number,
      fields: { readonly name?: string | undefined; readonly country_id?: number | undefined }
    ) {
      const current = yield* repo.findRow(id)
      if (Option.isNone(current)) return yield* cityNotFound(id)
      if (fields.name === undefined && fields.country_id === undefined) return
      const name = fields.name ?? current.value.name
      const countryId = fields.country_id ?? current.value.country_id
      if (fields.country_id !== undefined && !(yield* countries.exists(countryId)))
        return yield* countryNotFound(countryId)
      if (name !== current.value.name || countryId !== current.value.country_id)
        yield* ensureNameFree(name, countryId, id)
      yield* audit.write(
        { action: "city.updated", entity: "city", id },
        repo.update(id, { name, country_id: countryId })
      )
    })

    const update = (id: number, body: CityIn) => write(id, { name: body.name, country_id: body.country_id })

    /** Y5: `null` is the same as absent; nothing supplied → 200 after the existence check. */
    const patch = (id: number, body: CityPatch) =>
      write(id, { name: body.name ?? undefined, country_id: body.country_id ?? undefined })

    /** Y6 / BR-10: a city that still has hotels is refused with 409 E-90 (nothing is deleted). */
    const remove = (id: number) =>
      Effect.gen(function* () {
        if (!(yield* repo.lock(id))) return yield* new NotFound({ detail: Messages.cityNotFound })
        if (yield* repo.hasHotels(id)) return yield* new IntegrityViolation({ detail: Messages.integrityViolation })
        yield* audit.write({ action: "city.deleted", entity: "city", id }, repo.remove(id))
      }).pipe(audit.transaction, Effect.catchTag("SqlError", Effect.die), Effect.withSpan("Cities.remove"))

    return { list, get, create, update, patch, remove } as const
  }),
  dependencies: [CitiesRepo.Default, CountriesRepo.Default, AuditTrail.Default]
}) {}

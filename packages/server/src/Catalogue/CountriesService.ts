/**
 * Countries (docs/api.md §8.2; docs/data.md BR-1, BR-10, BR-11; docs/decisions.md D9): the `countries` table and its use cases.
 */
import { pageOf } from "@shum/domain/Common"
import { Conflict, IntegrityViolation, NotFound } from "@shum/domain/Errors"
import { type CountryIn, type CountryPatch } from "@shum/domain/Geo"
import { Messages } from "@shum/domain/Messages"
import type { CountriesQuery } from "@shum/domain/Params"
import { Effect, Option } from "effect"
import { AuditTrail } from "../Audit/AuditTrail.js"
import { CountriesRepo, type CountryFields } from "./CountriesRepo.js"

export class CountriesService extends Effect.Service<CountriesService>()("server/CountriesService", {
  effect: Effect.gen(function* () {
    const repo = yield* CountriesRepo
    // every admin write leaves its audit row, in its transaction (docs/decisions.md D17)
    const audit = yield* AuditTrail

    const nameConflict = (name: string) => new Conflict({ detail: Messages.countryNameTaken(name) })
    const isoConflict = (iso: string) => new Conflict({ detail: Messages.countryIsoTaken(iso) })

    const list = (query: typeof CountriesQuery.Type) => repo.list({ ...pageOf(query), name: query.name })

    const get = (id: number) =>
      Effect.flatMap(repo.findById(id), (found) =>
        Option.isSome(found)
          ? Effect.succeed(found.value)
          : Effect.fail(new NotFound({ detail: Messages.countryNotFound }))
      )

    const create = Effect.fn("Countries.create")(function* (body: CountryIn) {
      const iso = body.iso_code.toUpperCase()
      if (yield* repo.nameTaken(body.name)) return yield* nameConflict(body.name)
      if (yield* repo.isoTaken(iso)) return yield* isoConflict(iso)
      return yield* audit.write(
        { action: "country.created", entity: "country", idOf: (id) => id },
        repo.insert({ name: body.name, iso_code: iso })
      )
    })

    /**
     * C4/C5. The name is checked only when it differs exactly from the stored one, and against the other
     * countries: changing only the letter case of the country's own name succeeds (D9).
     */
    const write = Effect.fn("Countries.write")(function* (id: number, fields: CountryFields) {
      const current = yield* repo.findById(id)
      if (Option.isNone(current)) return yield* new NotFound({ detail: Messages.entityNotFound("Страна", id) })
      const { name } = fields
      const iso = fields.iso_code?.toUpperCase()
      if (name !== undefined && name !== current.value.name && (yield* repo.nameTaken(name, id)))
        return yield* nameConflict(name)
      if (iso !== undefined && iso !== current.value.iso_code && (yield* repo.isoTaken(iso, id)))
        return yield* isoConflict(iso)
      yield* audit.write({ action: "country.updated", entity: "country", id }, repo.update(id, { name, iso_code: iso }))
    })

    const update = (id: number, body: CountryIn) => write(id, { name: body.name, iso_code: body.iso_code })

    /** C5: `null` is the same as absent. */
    const patch = (id: number, body: CountryPatch) =>
      write(id, { name: body.name ?? undefined, iso_code: body.iso_code ?? undefined })

    /** C6 / BR-10: a country that still has cities is refused with 409 E-90 (nothing is deleted). */
    const remove = (id: number) =>
      Effect.gen(function* () {
        if (!(yield* repo.lock(id))) return yield* new NotFound({ detail: Messages.countryNotFoundFeminine })
        if (yield* repo.hasCities(id)) return yield* new IntegrityViolation({ detail: Messages.integrityViolation })
        yield* audit.write({ action: "country.deleted", entity: "country", id }, repo.remove(id))
      }).pipe(audit.transaction, Effect.catchTag("SqlError", Effect.die), Effect.withSpan("Countries.remove"))

    return { list, get, create, update, patch, remove } as const
  }),
  dependencies: [CountriesRepo.Default, AuditTrail.Default]
}) {}

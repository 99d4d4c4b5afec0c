/**
 * Facilities (docs/api.md §8.4; docs/data.md BR-3): free-text labels that rooms link to. No update endpoint.
 */
import { pageOf } from "@shum/domain/Common"
import { NotFound } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import type { FacilitiesQuery } from "@shum/domain/Params"
import { type FacilityIn } from "@shum/domain/Rooms"
import { Effect, Option } from "effect"
import { AuditTrail } from "../Audit/AuditTrail.js"
import { FacilitiesRepo } from "./FacilitiesRepo.js"

export class FacilitiesService extends Effect.Service<FacilitiesService>()("server/FacilitiesService", {
  effect: Effect.gen(function* () {
    const repo = yield* FacilitiesRepo
    // every admin write leaves its audit row, in its transaction (docs/decisions.md D17)
    const audit = yield* AuditTrail
    const notFound = () => new NotFound({ detail: Messages.facilityNotFound })

    const list = (query: typeof FacilitiesQuery.Type) => repo.list({ ...pageOf(query), title: query.title })

    const get = (id: number) =>
      Effect.flatMap(repo.findById(id), (found) =>
        Option.isSome(found) ? Effect.succeed(found.value) : Effect.fail(notFound())
      )

    const create = (body: FacilityIn) =>
      audit.write({ action: "facility.created", entity: "facility", idOf: (id) => id }, repo.insert(body.title))

    const remove = (id: number) =>
      audit.write(
        { action: "facility.deleted", entity: "facility", id },
        Effect.flatMap(repo.remove(id), (removed) => (removed ? Effect.void : Effect.fail(notFound())))
      )

    return { list, get, create, remove } as const
  }),
  dependencies: [FacilitiesRepo.Default, AuditTrail.Default]
}) {}

/**
 * Facilities (docs/api.md §8.4; docs/data.md BR-3): free-text labels that rooms link to. No update endpoint.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { pageOf } from "@shum/domain/Common"
import { NotFound } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import type { FacilitiesQuery } from "@shum/domain/Params"
import { Facility, type FacilityIn } from "@shum/domain/Rooms"
import { Effect, Option, Schema } from "effect"
import { contains, where, type Page } from "./Sql.js"

export class FacilitiesRepo extends Effect.Service<FacilitiesRepo>()("server/FacilitiesRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const list = SqlSchema.findAll({
      Request: Schema.Struct({ limit: Schema.Int, offset: Schema.Int, title: Schema.optional(Schema.String) }),
      Result: Facility,
      execute: ({ limit, offset, title }) =>
        sql`SELECT id, title FROM facilities
            WHERE ${where(sql, [title === undefined ? undefined : contains(sql, "title", title)])}
            ORDER BY id LIMIT ${limit} OFFSET ${offset}`
    })
    const findById = SqlSchema.findOne({
      Request: Schema.Int,
      Result: Facility,
      execute: (id) => sql`SELECT id, title FROM facilities WHERE id = ${id}`
    })
    const insert = (title: string) =>
      sql<{ id: number }>`INSERT INTO facilities ${sql.insert({ title })} RETURNING id`.pipe(
        Effect.map((rows) => rows[0]!.id)
      )
    /** Its room links go with it (`ON DELETE CASCADE`). */
    const remove = (id: number) =>
      sql`DELETE FROM facilities WHERE id = ${id} RETURNING id`.pipe(Effect.map((rows) => rows.length > 0))

    return {
      list: (query: Page & { readonly title?: string | undefined }) => list(query).pipe(Effect.orDie),
      findById: (id: number) => findById(id).pipe(Effect.orDie),
      insert: (title: string) => insert(title).pipe(Effect.orDie),
      remove: (id: number) => remove(id).pipe(Effect.orDie)
    } as const
  })
}) {}

export class FacilitiesService extends Effect.Service<FacilitiesService>()("server/FacilitiesService", {
  effect: Effect.gen(function* () {
    const repo = yield* FacilitiesRepo
    const notFound = () => new NotFound({ detail: Messages.facilityNotFound })

    const list = (query: typeof FacilitiesQuery.Type) => repo.list({ ...pageOf(query), title: query.title })

    const get = (id: number) =>
      Effect.flatMap(repo.findById(id), (found) =>
        Option.isSome(found) ? Effect.succeed(found.value) : Effect.fail(notFound())
      )

    const create = (body: FacilityIn) => repo.insert(body.title)

    const remove = (id: number) =>
      Effect.flatMap(repo.remove(id), (removed) => (removed ? Effect.void : Effect.fail(notFound())))

    return { list, get, create, remove } as const
  })
}) {}

/**
 * Facilities (docs/api.md §8.4; docs/data.md BR-3): free-text labels that rooms link to. No update endpoint.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { Facility } from "@shum/domain/Rooms"
import { Effect, Schema } from "effect"
import { contains, where, type Page } from "./SqlFilters.js"

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

/**
 * Cities (docs/api.md §8.3; docs/data.md BR-1, BR-10, BR-11): the `cities` table and its use cases.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { City } from "@shum/domain/Geo"
import { Effect, Schema } from "effect"
import { contains, where, type Page } from "./SqlFilters.js"

const CityRow = Schema.Struct({ id: Schema.Int, name: Schema.String, country_id: Schema.Int })

export class CitiesRepo extends Effect.Service<CitiesRepo>()("server/CitiesRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // One statement: the country comes nested, as the `City` model wants it.
    const select = sql`SELECT c.id, c.name,
        json_build_object('id', co.id, 'name', co.name, 'iso_code', co.iso_code) AS country
      FROM cities c JOIN countries co ON co.id = c.country_id`

    const list = SqlSchema.findAll({
      Request: Schema.Struct({
        limit: Schema.Int,
        offset: Schema.Int,
        name: Schema.optional(Schema.String),
        country_id: Schema.optional(Schema.Int)
      }),
      Result: City,
      execute: ({ country_id, limit, name, offset }) =>
        sql`${select}
            WHERE ${where(sql, [
              name === undefined ? undefined : contains(sql, "c.name", name),
              country_id === undefined ? undefined : sql`c.country_id = ${country_id}`
            ])}
            ORDER BY c.id LIMIT ${limit} OFFSET ${offset}`
    })
    const findById = SqlSchema.findOne({
      Request: Schema.Int,
      Result: City,
      execute: (id) => sql`${select} WHERE c.id = ${id}`
    })
    const findRow = SqlSchema.findOne({
      Request: Schema.Int,
      Result: CityRow,
      execute: (id) => sql`SELECT id, name, country_id FROM cities WHERE id = ${id}`
    })
    /** BR-1: exact, case-sensitive name within one country (the `ux_cities_country_id_name` index backs it). */
    const nameTaken = (name: string, countryId: number, exceptId?: number) =>
      sql`SELECT 1 FROM cities WHERE name = ${name} AND country_id = ${countryId}
          ${exceptId === undefined ? sql`` : sql`AND id <> ${exceptId}`} LIMIT 1`.pipe(
        Effect.map((rows) => rows.length > 0)
      )
    const insert = (fields: { readonly name: string; readonly country_id: number }) =>
      sql<{ id: number }>`INSERT INTO cities ${sql.insert(fields)} RETURNING id`.pipe(Effect.map((rows) => rows[0]!.id))
    const update = (id: number, fields: { readonly name: string; readonly country_id: number }) =>
      sql`UPDATE cities SET ${sql.update(fields)} WHERE id = ${id}`
    /** Locks the row, so no hotel can be added to the city until the transaction ends. */
    const lock = (id: number) =>
      sql`SELECT id FROM cities WHERE id = ${id} FOR UPDATE`.pipe(Effect.map((rows) => rows.length > 0))
    const hasHotels = (id: number) =>
      sql`SELECT 1 FROM hotels WHERE city_id = ${id} LIMIT 1`.pipe(Effect.map((rows) => rows.length > 0))
    const remove = (id: number) => sql`DELETE FROM cities WHERE id = ${id}`

    return {
      list: (query: Page & { readonly name?: string | undefined; readonly country_id?: number | undefined }) =>
        list(query).pipe(Effect.orDie),
      findById: (id: number) => findById(id).pipe(Effect.orDie),
      findRow: (id: number) => findRow(id).pipe(Effect.orDie),
      nameTaken: (name: string, countryId: number, exceptId?: number) =>
        nameTaken(name, countryId, exceptId).pipe(Effect.orDie),
      insert: (fields: { readonly name: string; readonly country_id: number }) => insert(fields).pipe(Effect.orDie),
      update: (id: number, fields: { readonly name: string; readonly country_id: number }) =>
        update(id, fields).pipe(Effect.asVoid, Effect.orDie),
      lock: (id: number) => lock(id).pipe(Effect.orDie),
      hasHotels: (id: number) => hasHotels(id).pipe(Effect.orDie),
      remove: (id: number) => remove(id).pipe(Effect.asVoid, Effect.orDie)
    } as const
  })
}) {}

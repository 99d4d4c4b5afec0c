/**
 * Countries (docs/api.md §8.2; docs/data.md BR-1, BR-10, BR-11; docs/decisions.md D9): the `countries` table and its use cases.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { Country } from "@shum/domain/Geo"
import { Effect, Schema } from "effect"
import { contains, where, type Page } from "./SqlFilters.js"

/** Columns a write sets; `undefined` = leave as is. */
export interface CountryFields {
  readonly name?: string | undefined
  readonly iso_code?: string | undefined
}

const definedOnly = (fields: CountryFields) =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined))

export class CountriesRepo extends Effect.Service<CountriesRepo>()("server/CountriesRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const list = SqlSchema.findAll({
      Request: Schema.Struct({ limit: Schema.Int, offset: Schema.Int, name: Schema.optional(Schema.String) }),
      Result: Country,
      execute: ({ limit, name, offset }) =>
        sql`SELECT id, name, iso_code FROM countries
            WHERE ${where(sql, [name === undefined ? undefined : contains(sql, "name", name)])}
            ORDER BY id LIMIT ${limit} OFFSET ${offset}`
    })
    const findById = SqlSchema.findOne({
      Request: Schema.Int,
      Result: Country,
      execute: (id) => sql`SELECT id, name, iso_code FROM countries WHERE id = ${id}`
    })
    const exists = (id: number) =>
      sql`SELECT 1 FROM countries WHERE id = ${id}`.pipe(Effect.map((rows) => rows.length > 0))
    const except = (id: number | undefined) => (id === undefined ? sql`` : sql`AND id <> ${id}`)
    /** BR-1: names are unique case-insensitively (the `ux_countries_lower_name` index backs it). */
    const nameTaken = (name: string, exceptId?: number) =>
      sql`SELECT 1 FROM countries WHERE lower(name) = lower(${name}) ${except(exceptId)} LIMIT 1`.pipe(
        Effect.map((rows) => rows.length > 0)
      )
    /** `iso` already upper-cased. */
    const isoTaken = (iso: string, exceptId?: number) =>
      sql`SELECT 1 FROM countries WHERE iso_code = ${iso} ${except(exceptId)} LIMIT 1`.pipe(
        Effect.map((rows) => rows.length > 0)
      )
    const insert = (fields: Required<CountryFields>) =>
      sql<{ id: number }>`INSERT INTO countries ${sql.insert(fields)} RETURNING id`.pipe(
        Effect.map((rows) => rows[0]!.id)
      )
    const update = (id: number, fields: CountryFields) => {
      const set = definedOnly(fields)
      return Object.keys(set).length === 0
        ? Effect.void
        : Effect.asVoid(sql`UPDATE countries SET ${sql.update(set)} WHERE id = ${id}`)
    }
    /** Locks the row, so no city can be added to the country until the transaction ends. */
    const lock = (id: number) =>
      sql`SELECT id FROM countries WHERE id = ${id} FOR UPDATE`.pipe(Effect.map((rows) => rows.length > 0))
    const hasCities = (id: number) =>
      sql`SELECT 1 FROM cities WHERE country_id = ${id} LIMIT 1`.pipe(Effect.map((rows) => rows.length > 0))
    const remove = (id: number) => sql`DELETE FROM countries WHERE id = ${id}`

    return {
      list: (query: Page & { readonly name?: string | undefined }) => list(query).pipe(Effect.orDie),
      findById: (id: number) => findById(id).pipe(Effect.orDie),
      exists: (id: number) => exists(id).pipe(Effect.orDie),
      nameTaken: (name: string, exceptId?: number) => nameTaken(name, exceptId).pipe(Effect.orDie),
      isoTaken: (iso: string, exceptId?: number) => isoTaken(iso, exceptId).pipe(Effect.orDie),
      /** The new country's id. */
      insert: (fields: Required<CountryFields>) => insert(fields).pipe(Effect.orDie),
      update: (id: number, fields: CountryFields) => update(id, fields).pipe(Effect.asVoid, Effect.orDie),
      lock: (id: number) => lock(id).pipe(Effect.orDie),
      hasCities: (id: number) => hasCities(id).pipe(Effect.orDie),
      remove: (id: number) => remove(id).pipe(Effect.asVoid, Effect.orDie)
    } as const
  })
}) {}

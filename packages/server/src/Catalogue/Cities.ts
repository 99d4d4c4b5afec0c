/**
 * Cities (docs/api.md §8.3; docs/data.md BR-1, BR-10, BR-11): the `cities` table and its use cases.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { pageOf } from "@shum/domain/Common"
import { Conflict, IntegrityViolation, NotFound } from "@shum/domain/Errors"
import { City, type CityIn, type CityPatch } from "@shum/domain/Geo"
import { Messages } from "@shum/domain/Messages"
import type { CitiesQuery } from "@shum/domain/Params"
import { Effect, Option, Schema } from "effect"
import { CountriesRepo } from "./Countries.js"
import { contains, where, type Page } from "./Sql.js"

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

export class CitiesService extends Effect.Service<CitiesService>()("server/CitiesService", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* CitiesRepo
    const countries = yield* CountriesRepo

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
      return yield* repo.insert({ name: body.name, country_id: body.country_id })
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
      yield* repo.update(id, { name, country_id: countryId })
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
        yield* repo.remove(id)
      }).pipe(sql.withTransaction, Effect.catchTag("SqlError", Effect.die), Effect.withSpan("Cities.remove"))

    return { list, get, create, update, patch, remove } as const
  })
}) {}

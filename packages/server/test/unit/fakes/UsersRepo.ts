/**
 * `UsersRepo` over a Map: the rows the real table would hold, with its uniqueness of e-mails. Only what the
 * services read and write; the SQL itself is proved by the database tests.
 */
import { Context, Effect, Layer, Option, Ref } from "effect"
import { type UserFields, UsersRepo, type UserRow } from "../../../src/Users/Repo.js"
import { partial } from "./Partial.js"

export class UsersTable extends Context.Tag("test/UsersTable")<UsersTable, Ref.Ref<ReadonlyMap<number, UserRow>>>() {}

const defined = (fields: UserFields): Partial<UserRow> =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<UserRow>

export const UsersRepoMemory = Layer.effect(
  UsersRepo,
  Effect.gen(function* () {
    const table = yield* UsersTable
    let nextId = 1
    const rows = Effect.map(Ref.get(table), (map) => [...map.values()])
    const emailTaken = (email: string, except?: number) =>
      Effect.map(rows, (all) => all.some((row) => row.email === email && row.id !== except))
    return partial<UsersRepo>("UsersRepo", {
      findById: (id) => Effect.map(Ref.get(table), (map) => Option.fromNullable(map.get(id))),
      findByEmail: (email) => Effect.map(rows, (all) => Option.fromNullable(all.find((row) => row.email === email))),
      list: ({ email, limit, offset }) =>
        Effect.map(rows, (all) =>
          all
            .filter((row) => email === undefined || row.email === email)
            .sort((a, b) => a.id - b.id)
            .slice(offset, offset + limit)
        ),
      insert: (fields) =>
        Effect.gen(function* () {
          if (yield* emailTaken(fields.email)) return yield* Effect.dieMessage(`duplicate e-mail ${fields.email}`)
          const row: UserRow = {
            id: nextId++,
            hashed_password: null,
            first_name: null,
            last_name: null,
            telegram_id: null,
            pachca_id: null,
            role: "user",
            ...defined(fields),
            email: fields.email
          }
          yield* Ref.update(table, (map) => new Map(map).set(row.id, row))
          return row
        }),
      update: (id, fields) =>
        Effect.gen(function* () {
          const current = (yield* Ref.get(table)).get(id)
          if (current === undefined) return Option.none()
          if (fields.email !== undefined && (yield* emailTaken(fields.email, id))) {
            return yield* Effect.dieMessage(`duplicate e-mail ${fields.email}`)
          }
          const row: UserRow = { ...current, ...defined(fields) }
          yield* Ref.update(table, (map) => new Map(map).set(id, row))
          return Option.some(row)
        }),
      remove: (id) =>
        Ref.modify(table, (map) => {
          if (!map.has(id)) return [false, map]
          const next = new Map(map)
          next.delete(id)
          return [true, next]
        })
    })
  })
)

/** The fake repository and its table (for a test's own look at the rows). */
export const UsersMemory = UsersRepoMemory.pipe(
  Layer.provideMerge(Layer.effect(UsersTable, Ref.make<ReadonlyMap<number, UserRow>>(new Map())))
)

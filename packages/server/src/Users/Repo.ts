/**
 * The `users` table. Rows carry the password hash; it never leaves the server (`toUser`).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { Role, User } from "@shum/domain/Users"
import { Effect, Option, Schema } from "effect"

export const UserRow = Schema.Struct({
  id: Schema.Int,
  email: Schema.String,
  hashed_password: Schema.NullOr(Schema.String),
  first_name: Schema.NullOr(Schema.String),
  last_name: Schema.NullOr(Schema.String),
  telegram_id: Schema.NullOr(Schema.Number),
  pachca_id: Schema.NullOr(Schema.Number),
  role: Role
})
export type UserRow = typeof UserRow.Type

export const toUser = ({ hashed_password: _, ...user }: UserRow): User => new User(user)

/** Columns a write may set; `undefined` = leave as is, `null` = clear. */
export interface UserFields {
  readonly email?: string | undefined
  readonly hashed_password?: string | null | undefined
  readonly first_name?: string | null | undefined
  readonly last_name?: string | null | undefined
  readonly telegram_id?: number | null | undefined
  readonly pachca_id?: number | null | undefined
  readonly role?: Role | undefined
}

const definedOnly = (fields: UserFields): Record<string, unknown> =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined))

const COLUMNS = "id, email, hashed_password, first_name, last_name, telegram_id, pachca_id, role"

export class UsersRepo extends Effect.Service<UsersRepo>()("server/UsersRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const columns = sql.unsafe(COLUMNS)

    const findById = SqlSchema.findOne({
      Request: Schema.Int,
      Result: UserRow,
      execute: (id) => sql`SELECT ${columns} FROM users WHERE id = ${id}`
    })
    const findByEmail = SqlSchema.findOne({
      Request: Schema.String,
      Result: UserRow,
      execute: (email) => sql`SELECT ${columns} FROM users WHERE email = ${email}`
    })
    const list = SqlSchema.findAll({
      Request: Schema.Struct({ limit: Schema.Int, offset: Schema.Int, email: Schema.optional(Schema.String) }),
      Result: UserRow,
      execute: ({ email, limit, offset }) =>
        sql`SELECT ${columns} FROM users ${email === undefined ? sql`` : sql`WHERE email = ${email}`}
            ORDER BY id LIMIT ${limit} OFFSET ${offset}`
    })

    const insert = (fields: UserFields & { readonly email: string }) =>
      sql<UserRow>`INSERT INTO users ${sql.insert(definedOnly(fields))} RETURNING ${columns}`.pipe(
        Effect.flatMap((rows) => Schema.decodeUnknown(UserRow)(rows[0]))
      )

    const update = (id: number, fields: UserFields) => {
      const set = definedOnly(fields)
      return Object.keys(set).length === 0
        ? findById(id)
        : sql`UPDATE users SET ${sql.update(set)} WHERE id = ${id} RETURNING ${columns}`.pipe(
            Effect.flatMap((rows) => Schema.decodeUnknown(Schema.Array(UserRow))(rows)),
            Effect.map((rows) => Option.fromNullable(rows[0]))
          )
    }

    const remove = (id: number) =>
      sql`DELETE FROM users WHERE id = ${id} RETURNING id`.pipe(Effect.map((rows) => rows.length > 0))

    /** D1: make sure this admin exists; never touches an existing user's password. Returns whether it was created. */
    const ensureAdmin = (email: string, hashedPassword: string) =>
      sql<{ created: boolean }>`
        WITH inserted AS (
          INSERT INTO users (email, hashed_password, role) VALUES (${email}, ${hashedPassword}, 'admin')
          ON CONFLICT (email) DO NOTHING RETURNING id
        ), promoted AS (
          UPDATE users SET role = 'admin' WHERE email = ${email} AND role <> 'admin' AND NOT EXISTS (SELECT 1 FROM inserted)
          RETURNING id
        )
        SELECT EXISTS (SELECT 1 FROM inserted) AS created`.pipe(Effect.map((rows) => rows[0]?.created === true))

    return {
      findById: (id: number) => findById(id).pipe(Effect.orDie),
      findByEmail: (email: string) => findByEmail(email).pipe(Effect.orDie),
      list: (query: { limit: number; offset: number; email?: string }) => list(query).pipe(Effect.orDie),
      insert: (fields: UserFields & { readonly email: string }) => insert(fields).pipe(Effect.orDie),
      update: (id: number, fields: UserFields) => update(id, fields).pipe(Effect.orDie),
      remove: (id: number) => remove(id).pipe(Effect.orDie),
      ensureAdmin: (email: string, hashedPassword: string) => ensureAdmin(email, hashedPassword).pipe(Effect.orDie)
    } as const
  })
}) {}

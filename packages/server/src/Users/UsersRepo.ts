/**
 * The `users` table. Rows carry the password hash and the token version; neither leaves the server (`toUser`).
 *
 * E-mails are compared without regard to letter case (docs/decisions.md D12): an address names the account
 * stored with exactly that address, else the one whose address differs only in case and that the unique
 * index on `lower(email)` holds (a legacy case twin is left out of the index; migration 0006).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { Role, User } from "@shum/domain/Users"
import { outboxInsertSql } from "@shum/infra/Outbox"
import { Effect, Option, Schema } from "effect"
import { deleteFailed, lockStaysSql, userCascadeEventParts } from "../Catalogue/CascadeEvents.js"

export const UserRow = Schema.Struct({
  id: Schema.Int,
  email: Schema.String,
  hashed_password: Schema.NullOr(Schema.String),
  first_name: Schema.NullOr(Schema.String),
  last_name: Schema.NullOr(Schema.String),
  telegram_id: Schema.NullOr(Schema.Number),
  pachca_id: Schema.NullOr(Schema.Number),
  role: Role,
  /** Bumped by a password or role change: tokens issued under an older version are refused (D13). */
  token_version: Schema.Int
})
export type UserRow = typeof UserRow.Type

export const toUser = ({ hashed_password: _, token_version: __, ...user }: UserRow): User => new User(user)

/** The user a presented access token names, with whether its `jti` was revoked by a logout (D13). */
export interface SessionRow {
  readonly user: UserRow
  readonly revoked: boolean
}

/** Accounts whose addresses differ only in letter case (legacy data; no new ones can be made). */
export interface CaseTwins {
  readonly address: string
  readonly accounts: ReadonlyArray<{ readonly id: number; readonly email: string; readonly role: string }>
}

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

/**
 * `user.role_changed` (docs/decisions.md D16) over a part of the statement (`id`, the new `role` and the
 * `previous_role`): `update`'s `updated`, and the start-up promotion of `ADMIN_EMAIL` (`ensureAdmin`'s
 * `promoted`).
 */
const roleChanged = (part: "updated" | "promoted") =>
  outboxInsertSql({
    type: "user.role_changed",
    id: "u.id",
    hotelId: "NULL::integer",
    data: "jsonb_build_object('id', u.id, 'role', u.role, 'previous_role', u.previous_role)",
    from: `${part} u`,
    where: "u.role <> u.previous_role"
  })
const ROLE_CHANGED = roleChanged("updated")
const PROMOTED = roleChanged("promoted")

const COLUMNS = "id, email, hashed_password, first_name, last_name, telegram_id, pachca_id, role, token_version"

export class UsersRepo extends Effect.Service<UsersRepo>()("server/UsersRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const columns = sql.unsafe(COLUMNS)

    const findById = SqlSchema.findOne({
      Request: Schema.Int,
      Result: UserRow,
      execute: (id) => sql`SELECT ${columns} FROM users WHERE id = ${id}`
    })
    // the exact address (users_email_key), else the indexed account of its case group (ux_users_lower_email)
    const findByEmail = SqlSchema.findOne({
      Request: Schema.String,
      Result: UserRow,
      execute: (email) =>
        sql`SELECT ${columns} FROM users
            WHERE email = ${email} OR (lower(email) = lower(${email}) AND NOT email_case_twin)
            ORDER BY email = ${email} DESC LIMIT 1`
    })
    const SessionResult = Schema.Struct({ ...UserRow.fields, revoked: Schema.Boolean })
    const findSession = SqlSchema.findOne({
      Request: Schema.Struct({ id: Schema.Int, jti: Schema.String }),
      Result: SessionResult,
      execute: ({ id, jti }) =>
        sql`SELECT ${columns}, EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = ${jti}) AS revoked
            FROM users WHERE id = ${id}`
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

    /**
     * A password change, or a role that differs from the stored one, bumps the token version and revokes
     * the user's refresh tokens in the same statement (D13): every earlier token is refused from then on.
     */
    const update = (id: number, fields: UserFields) => {
      const set = definedOnly(fields)
      if (Object.keys(set).length === 0) return findById(id)
      const passwordChanged = fields.hashed_password !== undefined
      const role = fields.role ?? null
      // a role that differs from the stored one also writes `user.role_changed` to the outbox, in this same
      // statement (docs/decisions.md D16); `before` is the stored row, locked before the update reads it
      return sql`
        WITH updated AS (
          UPDATE users SET ${sql.update(set)},
            -- role here is the stored value, read under the row lock the update takes
            token_version = token_version + CASE
              WHEN ${passwordChanged} OR (${role}::text IS NOT NULL AND role <> ${role}::text) THEN 1 ELSE 0 END
          FROM (SELECT id AS before_id, role AS previous_role FROM users WHERE id = ${id} FOR UPDATE) before
          WHERE users.id = before.before_id RETURNING ${columns}, before.previous_role
        ), revoked AS (
          UPDATE refresh_tokens t SET is_revoked = true FROM updated u
          WHERE t.user_id = u.id AND t.token_version <> u.token_version AND NOT t.is_revoked
        ), event AS (${sql.unsafe(ROLE_CHANGED)})
        SELECT * FROM updated`.pipe(
        Effect.flatMap((rows) => Schema.decodeUnknown(Schema.Array(UserRow))(rows)),
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )
    }

    /**
     * Their bookings, holds, refresh tokens and keys go with them (`ON DELETE CASCADE`); the bookings' and
     * holds' webhook events are written by the delete's statement (`Catalogue/CascadeEvents.ts`, docs/decisions.md
     * D16) once the user is locked (no booking or hold made meanwhile) and then their confirmed bookings and
     * active holds (no cancel, release or confirm under way: each reported once). Aborted by the database (a
     * deadlock with a confirm): `DeleteAborted`, which the service runs again.
     */
    const remove = (id: number) =>
      Effect.gen(function* () {
        yield* sql`SELECT id FROM users WHERE id = ${id} FOR UPDATE`
        yield* sql.unsafe(lockStaysSql("user_id = $1"), [id])
        const rows = yield* sql`
          WITH u AS MATERIALIZED (SELECT id FROM users WHERE id = ${id}),
          ${sql.unsafe(userCascadeEventParts("u"))},
          deleted AS (DELETE FROM users WHERE id = ${id} RETURNING id)
          SELECT id FROM deleted`
        return rows.length > 0
      }).pipe(sql.withTransaction)

    /**
     * D1: make sure this admin exists; never touches an existing user's password. Returns whether it was
     * created. The address is matched as a login matches it; a promotion is a role change (D13).
     */
    const ensureAdmin = (email: string, hashedPassword: string) =>
      sql<{ created: boolean }>`
        WITH found AS (
          SELECT id FROM users WHERE email = ${email} OR (lower(email) = lower(${email}) AND NOT email_case_twin)
          ORDER BY email = ${email} DESC LIMIT 1
        ), promoted AS (
          -- the previous role read under the row lock, as update does: of two servers starting at once, the
          -- second finds the role already admin and neither promotes nor writes an event
          UPDATE users SET role = 'admin', token_version = token_version + 1
          FROM (SELECT id AS before_id, role AS previous_role FROM users WHERE id = (SELECT id FROM found)
                FOR UPDATE) before
          WHERE users.id = before.before_id AND users.role <> 'admin'
          RETURNING users.id, users.role, users.token_version, before.previous_role
        ), event AS (${sql.unsafe(PROMOTED)}), revoked AS (
          UPDATE refresh_tokens t SET is_revoked = true FROM promoted p
          WHERE t.user_id = p.id AND t.token_version <> p.token_version AND NOT t.is_revoked
        ), inserted AS (
          INSERT INTO users (email, hashed_password, role)
          SELECT ${email}, ${hashedPassword}, 'admin' WHERE NOT EXISTS (SELECT 1 FROM found)
          ON CONFLICT DO NOTHING RETURNING id
        )
        SELECT EXISTS (SELECT 1 FROM inserted) AS created`.pipe(Effect.map((rows) => rows[0]?.created === true))

    /** Groups of accounts whose addresses differ only in letter case, oldest group first. */
    const caseTwins = sql<{ address: string; accounts: CaseTwins["accounts"] }>`
      SELECT lower(email) AS address,
             json_agg(json_build_object('id', id, 'email', email, 'role', role) ORDER BY id) AS accounts
      FROM users GROUP BY lower(email) HAVING count(*) > 1 ORDER BY min(id)`.pipe(
      Effect.map((rows): ReadonlyArray<CaseTwins> => rows)
    )

    return {
      findById: (id: number) => findById(id).pipe(Effect.orDie),
      findByEmail: (email: string) => findByEmail(email).pipe(Effect.orDie),
      /** One round trip per authenticated request: the user and the revocation of the token's `jti`. */
      findSession: (id: number, jti: string) =>
        findSession({ id, jti }).pipe(
          Effect.map(Option.map(({ revoked, ...user }): SessionRow => ({ user, revoked }))),
          Effect.orDie
        ),
      list: (query: { limit: number; offset: number; email?: string }) => list(query).pipe(Effect.orDie),
      insert: (fields: UserFields & { readonly email: string }) => insert(fields).pipe(Effect.orDie),
      update: (id: number, fields: UserFields) => update(id, fields).pipe(Effect.orDie),
      remove: (id: number) => remove(id).pipe(Effect.catchTag("SqlError", deleteFailed)),
      ensureAdmin: (email: string, hashedPassword: string) => ensureAdmin(email, hashedPassword).pipe(Effect.orDie),
      caseTwins: caseTwins.pipe(Effect.orDie)
    } as const
  })
}) {}

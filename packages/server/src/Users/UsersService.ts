/**
 * Users (docs/api.md §8.1) with D1's rights: a user acts on their own account, an admin on any; only an
 * admin changes a role; a new password is hashed here, a client-supplied hash is refused by the schema.
 */
import { pageOf } from "@shum/domain/Common"
import { Conflict, Forbidden, NotFound } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { canActOnUser, isAdmin, type AuthenticatedUser } from "@shum/domain/Security"
import type { UserPatch, UserUpdate } from "@shum/domain/Users"
import { Effect, Option } from "effect"
import { AuditTrail } from "../Audit/AuditTrail.js"
import { Passwords } from "../Auth/Passwords.js"
import { retryDelete } from "../Catalogue/CascadeEvents.js"
import { toUser, UsersRepo, type UserFields } from "./UsersRepo.js"

const forbidden = () => new Forbidden({ detail: Messages.forbidden })

export class UsersService extends Effect.Service<UsersService>()("server/UsersService", {
  effect: Effect.gen(function* () {
    const repo = yield* UsersRepo
    const passwords = yield* Passwords
    // an admin's write on a user leaves its audit row, in its transaction (docs/decisions.md D17)
    const audit = yield* AuditTrail

    const authorize = (caller: AuthenticatedUser, userId: number, role: unknown) =>
      !canActOnUser(caller, userId) || (role !== undefined && role !== null && !isAdmin(caller))
        ? Effect.fail(forbidden())
        : Effect.void

    const ensureEmailFree = (userId: number, current: string, email: string | undefined) =>
      email === undefined || email === current
        ? Effect.void
        : Effect.flatMap(repo.findByEmail(email), (other) =>
            Option.isSome(other) && other.value.id !== userId
              ? Effect.fail(new Conflict({ detail: Messages.userEmailTaken(email) }))
              : Effect.void
          )

    const hashIfGiven = (password: string | null | undefined) =>
      password === undefined || password === null ? Effect.succeed(undefined) : passwords.hash(password)

    const write = Effect.fn("Users.write")(function* (caller: AuthenticatedUser, userId: number, fields: UserFields) {
      const current = yield* repo.findById(userId)
      if (Option.isNone(current))
        return yield* new NotFound({ detail: Messages.entityNotFound("Пользователь", userId) })
      yield* ensureEmailFree(userId, current.value.email, fields.email)
      yield* audit.write(
        {
          action: (changes) => ("role" in changes ? "user.role_changed" : "user.updated"),
          entity: "user",
          id: userId,
          actor: caller
        },
        repo.update(userId, fields)
      )
    })

    const list = (query: { page?: number | undefined; per_page?: number | undefined; email?: string | undefined }) =>
      Effect.map(
        repo.list({ ...pageOf(query), ...(query.email === undefined ? {} : { email: query.email }) }),
        (rows) => rows.map(toUser)
      )

    const get = (caller: AuthenticatedUser, userId: number) =>
      Effect.gen(function* () {
        yield* authorize(caller, userId, undefined)
        const row = yield* repo.findById(userId)
        if (Option.isNone(row)) return yield* new NotFound({ detail: Messages.userNotFound })
        return toUser(row.value)
      })

    /** PUT: `null` or absent leaves a field unchanged (U3). */
    const update = (caller: AuthenticatedUser, userId: number, body: UserUpdate) =>
      Effect.gen(function* () {
        yield* authorize(caller, userId, body.role)
        const keep = <A>(value: A | null | undefined): A | undefined => (value === null ? undefined : value)
        yield* write(caller, userId, {
          email: body.email,
          hashed_password: yield* hashIfGiven(body.password),
          first_name: keep(body.first_name),
          last_name: keep(body.last_name),
          telegram_id: keep(body.telegram_id),
          pachca_id: keep(body.pachca_id),
          role: keep(body.role)
        })
      })

    /** PATCH: what is present is written, `null` clears (U4). `{}` answers 200 at once, as the original did. */
    const patch = (caller: AuthenticatedUser, userId: number, body: UserPatch) =>
      Effect.gen(function* () {
        yield* authorize(caller, userId, body.role)
        const fields: UserFields = {
          email: body.email,
          hashed_password: yield* hashIfGiven(body.password),
          first_name: body.first_name,
          last_name: body.last_name,
          telegram_id: body.telegram_id,
          pachca_id: body.pachca_id,
          role: body.role
        }
        if (Object.values(fields).every((value) => value === undefined)) return
        yield* write(caller, userId, fields)
      })

    const remove = (caller: AuthenticatedUser, userId: number) =>
      Effect.gen(function* () {
        yield* authorize(caller, userId, undefined)
        const removed = yield* audit
          .write({ action: "user.deleted", entity: "user", id: userId, actor: caller }, repo.remove(userId))
          .pipe(retryDelete("user delete"))
        if (!removed) return yield* new NotFound({ detail: Messages.userNotFound })
      })

    return { list, get, update, patch, remove } as const
  }),
  dependencies: [UsersRepo.Default, Passwords.Default, AuditTrail.Default]
}) {}

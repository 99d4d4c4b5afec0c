/**
 * The audit trail (docs/decisions.md D17, docs/data.md BR-15): every write by an admin leaves one
 * `audit_log` row — actor, action, entity and id, the before/after of the fields it changed, the request's
 * id, the time — in the transaction of the write itself, so a write rolled back leaves no row.
 *
 * `write(spec, effect)` runs the write in a transaction between two snapshots of the entity's row (the
 * first `FOR NO KEY UPDATE`, so nothing else changes it in between): their difference is the row's `changes`, and
 * what `onChanges` receives (the outbox events `hotel.updated` / `room.updated` carry the same diff, D16).
 * Only a caller who is an admin is recorded (`CurrentUser`, or the `actor` given); other writes run as they
 * are. A write that changes nothing records nothing. Passwords, hashes and secrets never enter a row: their
 * columns are `"[redacted]"` (`changesOf`), the other internal columns are left out.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import type { AuditEntity } from "@shum/domain/Audit"
import { type AuthenticatedUser, CurrentUser, isAdmin } from "@shum/domain/Security"
import { Effect, FiberRef, Option } from "effect"
import { currentRequestId } from "../Http/RequestContext.js"
import { Metrics } from "../Metrics.js"

/** A field's values: `before` absent for a create, `after` absent for a delete. */
export interface Change {
  readonly before?: unknown
  readonly after?: unknown
}
export type Changes = Readonly<Record<string, Change>>

type Row = Readonly<Record<string, unknown>>

/** Shown instead of the value of a password hash or a webhook secret (never stored, docs/decisions.md D17). */
export const REDACTED = "[redacted]"
/** Columns whose values never leave the server: their change is recorded as redacted. */
const SECRET_COLUMNS: ReadonlyMap<string, string> = new Map([
  ["hashed_password", "password"],
  ["secret", "secret"],
  ["previous_secret", "previous_secret"]
])

const same = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b)

/**
 * The fields that differ between two snapshots of a row (a create has no `before`, a delete no `after`):
 * `{"price": {"before": 3000, "after": 3500}}`. The id is the row's `entity_id`, not a change.
 */
export const changesOf = (before: Row | undefined, after: Row | undefined): Changes => {
  const changes: Record<string, Change> = {}
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])
  for (const key of keys) {
    if (key === "id") continue
    const was = before?.[key] ?? null
    const is = after?.[key] ?? null
    if (before !== undefined && after !== undefined && same(was, is)) continue
    const secret = SECRET_COLUMNS.get(key)
    const shown = (value: unknown) => (secret === undefined || value === null ? value : REDACTED)
    changes[secret ?? key] = {
      ...(before === undefined ? {} : { before: shown(was) }),
      ...(after === undefined ? {} : { after: shown(is) })
    }
  }
  return changes
}

/**
 * Each entity's row as JSON, as the audit log shows it: its columns (less the internal ones), a room with its
 * `facility_ids`, an image with its `hotel_ids`. Trusted SQL text; `$1` is the id.
 */
const SNAPSHOTS: Readonly<Record<Exclude<AuditEntity, "sign_in">, string>> = {
  country: "SELECT to_jsonb(t) AS row FROM countries t WHERE t.id = $1",
  city: "SELECT to_jsonb(t) AS row FROM cities t WHERE t.id = $1",
  facility: "SELECT to_jsonb(t) AS row FROM facilities t WHERE t.id = $1",
  hotel: "SELECT to_jsonb(t) AS row FROM hotels t WHERE t.id = $1",
  room: `SELECT to_jsonb(t) || jsonb_build_object('facility_ids', COALESCE((
      SELECT jsonb_agg(rf.facility_id ORDER BY rf.facility_id) FROM rooms_facilities rf WHERE rf.room_id = t.id
    ), '[]'::jsonb)) AS row FROM rooms t WHERE t.id = $1`,
  image: `SELECT (to_jsonb(t) - 'requeued_at') || jsonb_build_object('hotel_ids', COALESCE((
      SELECT jsonb_agg(hi.hotel_id ORDER BY hi.hotel_id) FROM hotels_images hi WHERE hi.image_id = t.id
    ), '[]'::jsonb)) AS row FROM images t WHERE t.id = $1`,
  user: "SELECT to_jsonb(t) - 'token_version' - 'email_case_twin' AS row FROM users t WHERE t.id = $1",
  webhook: `SELECT to_jsonb(t) - 'updated_at' - 'last_success_at' - 'created_at' AS row
    FROM webhook_subscriptions t WHERE t.id = $1`
}
export type SnapshotEntity = keyof typeof SNAPSHOTS

/** One row of the audit log, as a write describes it. */
export interface AuditEntry {
  readonly action: string
  readonly entity: AuditEntity
  readonly entityId: string | number | null
  readonly changes: Changes
}

/** An audited write (see `AuditTrail.write`). */
export interface AuditedWrite<A> {
  /** `hotel.updated`; or chosen from the changes (`user.role_changed` when the role changed). */
  readonly action: string | ((changes: Changes) => string)
  readonly entity: SnapshotEntity
  /** The row's id when it exists before the write (an update, a delete). */
  readonly id?: number | undefined
  /** A create's new id, from the write's result. */
  readonly idOf?: ((result: A) => number) | undefined
  /** The caller, when the service has it; else `CurrentUser` from the request. */
  readonly actor?: AuthenticatedUser | undefined
  /** Also done in the transaction when something changed, whoever the caller: the outbox event (D16). */
  readonly onChanges?: ((changes: Changes, id: number) => Effect.Effect<unknown, SqlError>) | undefined
}

const isSqlError = (error: unknown): error is SqlError => error instanceof SqlError

/**
 * The actions of the rows written in the open `AuditTrail.transaction`, counted in `audit_rows_total` once it
 * commits (a row rolled back with its transaction is not counted; docs/decisions.md D17). `undefined`: none
 * open, the row's statement commits by itself.
 */
const pendingCounts = FiberRef.unsafeMake<Array<string> | undefined>(undefined)

export class AuditTrail extends Effect.Service<AuditTrail>()("server/AuditTrail", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const { counters } = yield* Metrics

    // The lock an UPDATE takes anyway, taken first: not `FOR UPDATE`, which would also block the key-share
    // locks of foreign keys (a booking inserted for the room) and could deadlock with them.
    const snapshot = (entity: SnapshotEntity, id: number, lock: boolean) =>
      sql
        .unsafe<{ row: Row }>(lock ? `${SNAPSHOTS[entity]} FOR NO KEY UPDATE OF t` : SNAPSHOTS[entity], [id])
        .pipe(Effect.map((rows) => rows[0]?.row))

    const insert = (entry: AuditEntry, actor: { readonly id: number; readonly email: string } | undefined) =>
      Effect.gen(function* () {
        const requestId = yield* currentRequestId
        yield* sql`INSERT INTO audit_log (actor_id, actor_email, action, entity, entity_id, changes, request_id)
          VALUES (${actor?.id ?? null}, ${actor?.email ?? null}, ${entry.action}, ${entry.entity},
                  ${entry.entityId === null ? null : String(entry.entityId)}, ${JSON.stringify(entry.changes)}::jsonb,
                  ${requestId ?? null})`
        const pending = yield* FiberRef.get(pendingCounts)
        if (pending === undefined) counters.auditRows.inc({ action: entry.action })
        else pending.push(entry.action)
      })

    /**
     * `sql.withTransaction` that counts the audit rows written in it once it commits (in the outermost one
     * that is an `AuditTrail.transaction`; a transaction opened by `sql.withTransaction` around it is not
     * seen, so services open theirs with this).
     */
    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function* () {
        const outer = yield* FiberRef.get(pendingCounts)
        const mine: Array<string> = []
        const result = yield* effect.pipe(sql.withTransaction, Effect.locally(pendingCounts, mine))
        if (outer !== undefined) outer.push(...mine)
        else for (const action of mine) counters.auditRows.inc({ action })
        return result
      })

    /** The admin making this request, if the caller is one. */
    const adminActor = (given: AuthenticatedUser | undefined) =>
      Effect.map(Effect.serviceOption(CurrentUser), (current) => {
        const actor = given ?? Option.getOrUndefined(current)
        return actor !== undefined && isAdmin(actor) ? actor : undefined
      })

    /**
     * Runs `effect` in a transaction with the entity's row read before (locked) and after; records what
     * changed when the caller is an admin, and runs `onChanges`. Nothing is read when neither applies.
     */
    const write = <A, E, R>(spec: AuditedWrite<A>, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.flatMap(adminActor(spec.actor), (actor) =>
        actor === undefined && spec.onChanges === undefined
          ? effect
          : (Effect.gen(function* () {
              const before = spec.id === undefined ? undefined : yield* snapshot(spec.entity, spec.id, true)
              const result = yield* effect
              const id = spec.id ?? spec.idOf?.(result)
              if (id === undefined) return result
              const after = yield* snapshot(spec.entity, id, false)
              if (before === undefined && after === undefined) return result
              const changes = changesOf(before, after)
              if (Object.keys(changes).length === 0) return result
              if (spec.onChanges !== undefined) yield* spec.onChanges(changes, id)
              if (actor !== undefined) {
                const action = typeof spec.action === "string" ? spec.action : spec.action(changes)
                yield* insert({ action, entity: spec.entity, entityId: id, changes }, actor)
              }
              return result
            }).pipe(transaction, Effect.catchIf(isSqlError, Effect.die)) as Effect.Effect<A, E, R>)
      )

    return {
      write,
      transaction,
      /**
       * A row for an admin's action that is no row's update (a webhook's redelivery or ping), in the caller's
       * transaction.
       */
      recordAdmin: (entry: AuditEntry, actor?: AuthenticatedUser) =>
        Effect.flatMap(adminActor(actor), (admin) => (admin === undefined ? Effect.void : insert(entry, admin))).pipe(
          Effect.orDie
        ),
      /** A row with no actor (a sign-in failure burst). */
      recordEvent: (entry: AuditEntry) => insert(entry, undefined).pipe(Effect.orDie)
    } as const
  })
}) {}

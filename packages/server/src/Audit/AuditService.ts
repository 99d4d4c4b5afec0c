/**
 * `GET /audit` (docs/api.md §15; docs/decisions.md D17): the audit log, newest first, filtered, in pages of
 * bounded size with an opaque cursor. A page is read with one more row than asked, to know whether another
 * page follows; the cursor is the last row's id, so rows written while a client pages never shift the pages
 * (they are newer: above where it started) and no row is seen twice or skipped.
 */
import { type AuditQuery, AuditEntry, AuditPage, decodeCursor, encodeCursor } from "@shum/domain/Audit"
import { ValidationError } from "@shum/domain/Errors"
import { Effect } from "effect"
import { AUDIT_QUERY_BUDGET_MS, AuditRepo } from "./AuditRepo.js"

const DEFAULT_LIMIT = 20

export class AuditService extends Effect.Service<AuditService>()("server/AuditService", {
  effect: Effect.gen(function* () {
    const repo = yield* AuditRepo

    const list = Effect.fn("Audit.list")(function* (query: AuditQuery) {
      // an id is only an id within its entity: alone it would scan the whole log (docs/decisions.md D11)
      if (query.entity_id !== undefined && query.entity === undefined)
        return yield* new ValidationError({
          detail: [
            {
              type: "missing",
              loc: ["query", "entity"],
              msg: "Field required with `entity_id`",
              input: null
            }
          ]
        })
      const limit = query.limit ?? DEFAULT_LIMIT
      const rows = yield* repo
        .list({
          entity: query.entity,
          entityId: query.entity_id,
          actorId: query.actor_id,
          action: query.action,
          from: query.from === undefined ? undefined : new Date(query.from).toISOString(),
          to: query.to === undefined ? undefined : new Date(query.to).toISOString(),
          before: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
          limit: limit + 1
        })
        .pipe(
          // a clear answer rather than unbounded work or a 500 (docs/decisions.md D11, D17)
          Effect.catchTag("AuditQueryTooBroad", () =>
            Effect.fail(
              new ValidationError({
                detail: [
                  {
                    type: "query_too_broad",
                    loc: ["query"],
                    msg:
                      `The filters could not be served within ${AUDIT_QUERY_BUDGET_MS} ms: narrow them ` +
                      "(one of entity with entity_id, actor_id or action, and from/to nearer the rows)",
                    input: null
                  }
                ]
              })
            )
          )
        )
      const items = rows.slice(0, limit)
      const last = items[items.length - 1]
      return new AuditPage({
        items: items.map((row) => new AuditEntry(row)),
        next_cursor: rows.length > limit && last !== undefined ? encodeCursor(last.id) : null
      })
    })

    return { list } as const
  }),
  dependencies: [AuditRepo.Default]
}) {}

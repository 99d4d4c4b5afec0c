/**
 * `AuditTrail` for the unit tests of services that audit their writes (docs/decisions.md D17): the write runs
 * as it is, the rows are kept in memory. What the audit log records (snapshots, diffs, the transaction) is
 * proved on PostgreSQL by `../../Audit.test.ts`.
 */
import { Effect, Layer } from "effect"
import { type AuditEntry, AuditTrail } from "../../../src/Audit/AuditTrail.js"

export const auditEntries: Array<AuditEntry> = []

export const AuditTrailMemory = Layer.succeed(
  AuditTrail,
  AuditTrail.make({
    write: (_spec, effect) => effect,
    transaction: (effect) => effect,
    recordAdmin: (entry) => Effect.sync(() => void auditEntries.push(entry)),
    recordEvent: (entry) => Effect.sync(() => void auditEntries.push(entry))
  })
)

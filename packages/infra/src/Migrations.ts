import * as NodeContext from "@effect/platform-node/NodeContext"
import { PgMigrator } from "@effect/sql-pg"
import { Effect, Layer, Schedule } from "effect"
import baseline from "./migrations/0001_baseline.js"
import decisions from "./migrations/0002_decisions.js"
import bookingsInventory from "./migrations/0003_bookings_inventory.js"
import bookingsRowTrigger from "./migrations/0004_bookings_row_trigger.js"
import imagesRequeue from "./migrations/0005_images_requeue.js"
import identity from "./migrations/0006_identity.js"
import bookingPath from "./migrations/0007_booking_path.js"
import holds from "./migrations/0008_holds.js"
import outboxWebhooksAudit from "./migrations/0009_outbox_webhooks_audit.js"
import bookingCommands from "./migrations/0010_booking_commands.js"

/** Ids only move forward: a new migration always gets a number above the last one. */
export const migrations = {
  "0001_baseline": baseline,
  "0002_decisions": decisions,
  "0003_bookings_inventory": bookingsInventory,
  "0004_bookings_row_trigger": bookingsRowTrigger,
  "0005_images_requeue": imagesRequeue,
  "0006_identity": identity,
  "0007_booking_path": bookingPath,
  "0008_holds": holds,
  "0009_outbox_webhooks_audit": outboxWebhooksAudit,
  "0010_booking_commands": bookingCommands
}

export const MIGRATIONS_TABLE = "shum_migrations"

/**
 * Applies pending migrations in one transaction under a table lock, so server and worker may both
 * migrate at boot. Returns the applied `[id, name]` pairs. A failing migration is a defect.
 */
export const runMigrations = PgMigrator.run({
  loader: PgMigrator.fromRecord(migrations),
  table: MIGRATIONS_TABLE
}).pipe(
  // two processes racing to create the bookkeeping table on an empty database: the loser retries
  Effect.retry({ times: 2, schedule: Schedule.spaced("200 millis"), while: (e) => e._tag === "SqlError" }),
  Effect.tap((applied) =>
    applied.length === 0
      ? Effect.logDebug("database schema is up to date")
      : Effect.logInfo(`applied migrations: ${applied.map(([id, name]) => `${id}_${name}`).join(", ")}`)
  ),
  Effect.provide(NodeContext.layer),
  Effect.withSpan("Migrations.run")
)

export const MigrationsLive = Layer.effectDiscard(runMigrations)

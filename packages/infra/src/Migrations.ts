import * as NodeContext from "@effect/platform-node/NodeContext"
import { MigrationError } from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
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
import webhookLeases from "./migrations/0011_webhook_leases.js"
import holdConfirmInPlace from "./migrations/0012_hold_confirm_in_place.js"
import webhookRetention from "./migrations/0013_webhook_retention.js"
import sessionInWrite from "./migrations/0014_session_in_write.js"
import catalogueVersion from "./migrations/0015_catalogue_version.js"
import auditLogIndexes from "./migrations/0016_audit_log_indexes.js"
import soldOutWithoutLocks from "./migrations/0017_sold_out_without_locks.js"
import holdsSessionInWrite from "./migrations/0018_holds_session_in_write.js"
import auditLogCombinedIndexes from "./migrations/0019_audit_log_combined_indexes.js"
import webhookClaimIndex from "./migrations/0020_webhook_claim_index.js"
import roomCards from "./migrations/0021_room_cards.js"
import staysLockRoomFirst from "./migrations/0022_stays_lock_room_first.js"
import roomCardsFacilityLocks from "./migrations/0023_room_cards_facility_locks.js"
import holdRefusedWithoutLocks from "./migrations/0024_hold_refused_without_locks.js"
import webhookQueueHeads from "./migrations/0025_webhook_queue_heads.js"
import webhookQueueLocks from "./migrations/0026_webhook_queue_locks.js"
import writePathGenericPlans from "./migrations/0027_write_path_generic_plans.js"
import roomNightsHotel from "./migrations/0028_room_nights_hotel.js"
import webhookRecordInClaim from "./migrations/0029_webhook_record_in_claim.js"
import bookingsFewerIndexes from "./migrations/0030_bookings_fewer_indexes.js"
import bookingsIndexesBack from "./migrations/0031_bookings_indexes_back.js"
import roomNightsHotelWritten from "./migrations/0032_room_nights_hotel_written.js"

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
  "0010_booking_commands": bookingCommands,
  "0011_webhook_leases": webhookLeases,
  "0012_hold_confirm_in_place": holdConfirmInPlace,
  "0013_webhook_retention": webhookRetention,
  "0014_session_in_write": sessionInWrite,
  "0015_catalogue_version": catalogueVersion,
  "0016_audit_log_indexes": auditLogIndexes,
  "0017_sold_out_without_locks": soldOutWithoutLocks,
  "0018_holds_session_in_write": holdsSessionInWrite,
  "0019_audit_log_combined_indexes": auditLogCombinedIndexes,
  "0020_webhook_claim_index": webhookClaimIndex,
  "0021_room_cards": roomCards,
  "0022_stays_lock_room_first": staysLockRoomFirst,
  "0023_room_cards_facility_locks": roomCardsFacilityLocks,
  "0024_hold_refused_without_locks": holdRefusedWithoutLocks,
  "0025_webhook_queue_heads": webhookQueueHeads,
  "0026_webhook_queue_locks": webhookQueueLocks,
  "0027_write_path_generic_plans": writePathGenericPlans,
  "0028_room_nights_hotel": roomNightsHotel,
  "0029_webhook_record_in_claim": webhookRecordInClaim,
  "0030_bookings_fewer_indexes": bookingsFewerIndexes, // withdrawn: does nothing, its number stays taken
  "0031_bookings_indexes_back": bookingsIndexesBack,
  "0032_room_nights_hotel_written": roomNightsHotelWritten
}

export const MIGRATIONS_TABLE = "shum_migrations"

/**
 * The migrator applies only the migrations numbered above the latest one applied. One that is known but
 * missing below an applied one (it was added after a later one had already run on this database) would
 * never run, and the service would run on a schema without it: start-up fails instead, naming it. So does a
 * number applied under another name than this build's (a number reused, e.g. after a migration was withdrawn
 * — which is why a withdrawn one keeps its number: `0030`): the migrator took it for applied and skipped it
 * (docs/data.md §5).
 */
const ensureNoSkipped = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ migration_id: number; name: string }>`
    SELECT migration_id, name FROM ${sql(MIGRATIONS_TABLE)}`
  const applied = new Map(rows.map((row) => [Number(row.migration_id), row.name]))
  const latest = Math.max(0, ...applied.keys())
  const known = Object.keys(migrations).map((key) => ({ key, id: Number(key.slice(0, 4)), name: key.slice(5) }))
  const skipped = known.filter(({ id }) => id < latest && !applied.has(id)).map(({ key }) => key)
  const renamed = known.filter(({ id, name }) => applied.has(id) && applied.get(id) !== name)
  if (skipped.length === 0 && renamed.length === 0) return
  const fix =
    `A development database: delete it (the embedded default's .data/postgres) and start again; otherwise apply ` +
    `it by hand and record it in ${MIGRATIONS_TABLE} (docs/data.md §5)`
  return yield* new MigrationError({
    reason: "bad-state",
    message:
      skipped.length > 0
        ? `migration ${skipped.join(", ")} was never applied to this database, which is already at ` +
          `${String(latest).padStart(4, "0")}; migrations only run in order, so it never will be. ${fix}`
        : `migration ${renamed.map(({ key }) => key).join(", ")} was never applied to this database: ` +
          `${MIGRATIONS_TABLE} records its number under another name ` +
          `(${renamed.map(({ id }) => `${String(id).padStart(4, "0")}_${applied.get(id)}`).join(", ")}). ${fix}`
  })
})

/**
 * Applies pending migrations in one transaction under a table lock, so server and worker may both
 * migrate at boot. Returns the applied `[id, name]` pairs. A failing migration is a defect; a migration
 * skipped by an earlier run fails the start (`ensureNoSkipped`).
 */
export const runMigrations = PgMigrator.run({
  loader: PgMigrator.fromRecord(migrations),
  table: MIGRATIONS_TABLE
}).pipe(
  // two processes racing to create the bookkeeping table on an empty database: the loser retries
  Effect.retry({ times: 2, schedule: Schedule.spaced("200 millis"), while: (e) => e._tag === "SqlError" }),
  Effect.zipLeft(ensureNoSkipped),
  Effect.tap((applied) =>
    applied.length === 0
      ? Effect.logDebug("database schema is up to date")
      : Effect.logInfo(`applied migrations: ${applied.map(([id, name]) => `${id}_${name}`).join(", ")}`)
  ),
  Effect.provide(NodeContext.layer),
  Effect.withSpan("Migrations.run")
)

export const MigrationsLive = Layer.effectDiscard(runMigrations)

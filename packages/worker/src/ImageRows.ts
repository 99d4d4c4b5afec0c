/**
 * The worker's view of the `images` table (D5): start an attempt, then mark the image done or failed.
 * Every update applies only to a `pending` row, so a duplicate or late delivery changes nothing.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { ImageStatus } from "@shum/domain/Images"
import { outboxInsertSql } from "@shum/infra/Outbox"
import { Effect, Option, Schema } from "effect"

const Started = Schema.Struct({ width: Schema.Int, height: Schema.Int })
const Pending = Schema.Struct({ id: Schema.Int, stored_filename: Schema.String })

export type Attempt =
  | { readonly _tag: "Pending"; readonly width: number; readonly height: number }
  | { readonly _tag: "Settled"; readonly status: ImageStatus }
  | { readonly _tag: "Deleted" }

/**
 * Pending images older than `seconds` and not re-queued within as long, marked re-queued now: a row is
 * claimed by one caller only (`SKIP LOCKED`), at most 100 at a time.
 */
const claimLost = (sql: SqlClient.SqlClient, seconds: number) =>
  sql<{ id: number; stored_filename: string }>`
    UPDATE images SET requeued_at = now()
    WHERE id IN (
      SELECT id FROM images
      WHERE status = 'pending' AND stored_filename IS NOT NULL
        AND created_at < now() - make_interval(secs => ${seconds})
        AND (requeued_at IS NULL OR requeued_at < now() - make_interval(secs => ${seconds}))
      ORDER BY id LIMIT 100
      FOR UPDATE SKIP LOCKED
    )
    RETURNING id, stored_filename`

/**
 * Every pending image but those in `except` (their jobs are queued or in hand), marked re-queued now, for a
 * stream that lost its jobs: claimed by one caller only (`SKIP LOCKED`), at most 10 000 at a time.
 */
const claimPending = (sql: SqlClient.SqlClient, except: ReadonlyArray<number>) =>
  sql<{ id: number; stored_filename: string }>`
    UPDATE images SET requeued_at = now()
    WHERE id IN (
      SELECT id FROM images
      WHERE status = 'pending' AND stored_filename IS NOT NULL
        AND NOT (id = ANY(${`{${except.map((id) => Math.trunc(id)).join(",")}}`}::int[]))
      ORDER BY id LIMIT 10000
      FOR UPDATE SKIP LOCKED
    )
    RETURNING id, stored_filename`

const imageEvent = (type: string) =>
  outboxInsertSql({
    type,
    id: "s.id",
    hotelId: "hi.hotel_id",
    data: "jsonb_build_object('id', s.id, 'hotel_id', hi.hotel_id, 'status', s.status, 'error', s.error)",
    from: `settled s LEFT JOIN LATERAL (SELECT hotel_id FROM hotels_images WHERE image_id = s.id
             ORDER BY hotel_id LIMIT 1) hi ON true`,
    where: "true"
  })
const PROCESSED = imageEvent("image.processed")
const FAILED = imageEvent("image.failed")

export class ImageRows extends Effect.Service<ImageRows>()("worker/ImageRows", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const start = SqlSchema.findOne({
      Request: Schema.Struct({ id: Schema.Int, attempt: Schema.Int }),
      Result: Started,
      execute: ({ attempt, id }) =>
        sql`UPDATE images SET attempts = ${attempt} WHERE id = ${id} AND status = 'pending' RETURNING width, height`
    })
    const status = SqlSchema.findOne({
      Request: Schema.Int,
      Result: Schema.Struct({ status: ImageStatus }),
      execute: (id) => sql`SELECT status FROM images WHERE id = ${id}`
    })
    // the image's outbox event (docs/decisions.md D16) is written by the same statement
    const settle = (id: number, to: "done" | "failed", error: string | null) =>
      sql`
        WITH settled AS (
          UPDATE images SET status = ${to}, error = ${error} WHERE id = ${id} AND status = 'pending'
          RETURNING id, status, error
        ), event AS (${sql.unsafe(to === "done" ? PROCESSED : FAILED)})
        SELECT id FROM settled`.pipe(Effect.map((rows) => rows.length > 0))
    const pending = SqlSchema.findAll({
      Request: Schema.Void,
      Result: Pending,
      execute: () =>
        sql`SELECT id, stored_filename FROM images WHERE status = 'pending' AND stored_filename IS NOT NULL ORDER BY id`
    })

    /** Records the attempt number; tells what to do when the row is no longer pending (or gone). */
    const begin = (id: number, attempt: number): Effect.Effect<Attempt> =>
      Effect.gen(function* () {
        const started = yield* start({ id, attempt })
        if (Option.isSome(started)) return { _tag: "Pending", ...started.value } as const
        const row = yield* status(id)
        return Option.match(row, {
          onNone: (): Attempt => ({ _tag: "Deleted" }),
          onSome: ({ status }): Attempt => ({ _tag: "Settled", status })
        })
      }).pipe(Effect.orDie)

    return {
      begin,
      /** False when the row is gone (deleted meanwhile) or already settled. */
      markDone: (id: number) => settle(id, "done", null).pipe(Effect.orDie),
      markFailed: (id: number, error: string) => settle(id, "failed", error).pipe(Effect.orDie),
      exists: (id: number) => status(id).pipe(Effect.map(Option.isSome), Effect.orDie),
      /** Images whose job is not finished (to queue again where jobs do not survive a restart). */
      pending: pending(undefined).pipe(Effect.orDie),
      claimLost: (seconds: number) => claimLost(sql, seconds).pipe(Effect.orDie),
      claimPending: (except: ReadonlyArray<number>) => claimPending(sql, except).pipe(Effect.orDie)
    } as const
  })
}) {}

/**
 * D5, a lost job: with Redis, a server that dies between committing an image's `pending` row and appending
 * its job leaves the image pending with no job. The worker re-queues such images (`ImageWorker.requeueLost`);
 * `requeued_at` records when, so each is re-queued once per period whichever worker replica finds it, and
 * the partial index keeps the search to the few pending rows.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
ALTER TABLE images ADD COLUMN requeued_at timestamp with time zone;
CREATE INDEX ix_images_pending_created_at ON images (created_at) WHERE status = 'pending';
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))

/**
 * A lost job (D5): an image left `pending` with no job — a server that died between the row's commit and
 * the job's append — is queued again on the real Redis stream, once per period, by one caller only, and
 * nothing else is.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, layer } from "@effect/vitest"
import * as Database from "@shum/infra/Database"
import { defaultSettings, ImageJobJson, keys } from "@shum/infra/ImageJobs"
import * as ImageJobsRedis from "@shum/infra/ImageJobsRedis"
import { Redis } from "@shum/infra/Redis"
import { deleteImageStream, freshDatabase, randomName, redisConnection } from "@shum/infra/Testing"
import { Duration, Effect, Layer, Logger, LogLevel, Schema } from "effect"
import { ImageRows } from "../src/ImageRows.js"
import { requeueLost, requeuePending } from "../src/ImageWorker.js"

const prefix = randomName("shum-test-requeue:")
const RedisLive = Redis.layer(redisConnection)

const TestLayer = Layer.unwrapScoped(
  Effect.map(freshDatabase, (connection) =>
    Layer.mergeAll(ImageRows.Default, ImageJobsRedis.layer({ ...defaultSettings, prefix })).pipe(
      Layer.provideMerge(Database.layer(connection, { poolSize: 3 })),
      Layer.provideMerge(RedisLive)
    )
  )
).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Error)))

/** A row as the upload makes it, created `minutesAgo` minutes ago. */
const insertImage = (status: "pending" | "done" | "failed", minutesAgo: number) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<{ id: number }>`
      INSERT INTO images (filename, original_filename, width, height, status, stored_filename, created_at)
      VALUES ('a.jpg', 'a.jpg', 800, 600, ${status}, ${randomName("img-")}, now() - make_interval(mins => ${minutesAgo}))
      RETURNING id`
  ).pipe(
    Effect.map((rows) => rows[0]!.id),
    Effect.orDie
  )

/** The image ids of the jobs in the stream, in order. */
const queued = Effect.flatMap(Redis, (redis) =>
  redis.use((client) => client.xrange(keys(prefix).stream, "-", "+"))
).pipe(
  Effect.map((entries) =>
    entries.map(([, fields]) => {
      const job = fields[fields.indexOf("job") + 1]!
      return Schema.decodeUnknownSync(ImageJobJson)(job).image_id
    })
  ),
  Effect.orDie
)

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("re-queueing lost image jobs", (it) => {
  it.scoped("old pending images are queued again once per period; recent, settled ones never", () =>
    Effect.gen(function* () {
      yield* Effect.addFinalizer(() => deleteImageStream(prefix).pipe(Effect.ignore))
      const lostA = yield* insertImage("pending", 30)
      const lostB = yield* insertImage("pending", 20)
      yield* insertImage("pending", 1) // its job may well still be on its way
      yield* insertImage("done", 30)
      yield* insertImage("failed", 30)

      assert.strictEqual(yield* requeueLost(Duration.minutes(15)), 2)
      assert.deepStrictEqual(yield* queued, [lostA, lostB])
      // within the period: not again
      assert.strictEqual(yield* requeueLost(Duration.minutes(15)), 0)
      assert.deepStrictEqual(yield* queued, [lostA, lostB])

      // a period later (as if `requeued_at` were that old) the one still pending goes again, the settled not
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE images SET status = 'done' WHERE id = ${lostB}`
      yield* sql`UPDATE images SET requeued_at = now() - interval '16 minutes' WHERE id IN (${lostA}, ${lostB})`
      assert.strictEqual(yield* requeueLost(Duration.minutes(15)), 1)
      assert.deepStrictEqual(yield* queued, [lostA, lostB, lostA])
    })
  )

  it.scoped(
    "after a lost stream every pending image, however recent, is queued again at once but those queued or in hand",
    () =>
      Effect.gen(function* () {
        yield* Effect.addFinalizer(() => deleteImageStream(prefix).pipe(Effect.ignore))
        yield* Effect.flatMap(Redis, (redis) => redis.use((c) => c.del(keys(prefix).stream))).pipe(Effect.orDie)
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE images SET status = 'done' WHERE status = 'pending'` // the other tests' rows
        const fresh = yield* insertImage("pending", 0)
        const older = yield* insertImage("pending", 5)
        const queuedAlready = yield* insertImage("pending", 0)
        yield* insertImage("done", 0)
        yield* insertImage("failed", 0)
        assert.strictEqual(yield* requeuePending(new Set([queuedAlready])), 2)
        assert.sameMembers(yield* queued, [fresh, older])
        // the periodic re-queue leaves them alone for a period
        assert.strictEqual(yield* requeueLost(Duration.seconds(60)), 0)
        // a second loss queues every pending image again
        assert.strictEqual(yield* requeuePending(new Set()), 3)
        assert.sameMembers((yield* queued).slice(2), [fresh, older, queuedAlready])
      })
  )

  it.effect("concurrent callers (worker replicas) claim each lost image once", () =>
    Effect.gen(function* () {
      const rows = yield* ImageRows
      const ids = yield* Effect.forEach([1, 2, 3, 4, 5, 6], () => insertImage("pending", 60))
      const claims = yield* Effect.all(
        [1, 2, 3, 4].map(() => rows.claimLost(15 * 60)),
        { concurrency: "unbounded" }
      )
      const claimed = claims.flat().map((row) => row.id)
      assert.sameMembers(
        claimed.filter((id) => ids.includes(id)),
        ids
      )
      assert.strictEqual(new Set(claimed).size, claimed.length, "no image claimed twice")
    })
  )
})

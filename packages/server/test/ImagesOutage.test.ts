/**
 * An upload while the image job stream is unreachable (Redis down): 503 problem document with
 * `Retry-After`, and nothing left behind — the row (and its hotel link) is gone and the stored original
 * removed. Once the stream answers again, the same upload is accepted. A database 503 (E-91) carries
 * `Retry-After` too. The job stream here is the in-memory one with its appends made to fail on demand;
 * the fault suite (`packages/worker/test/RedisFaults.fault.ts`) does the same against a real Redis stopped.
 */
import { HttpClientRequest } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { ProblemContentType } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { ImageJobs, ImageJobsError } from "@shum/infra/ImageJobs"
import { ImageJobsMemoryLive } from "@shum/infra/ImageJobsMemory"
import { Effect, Layer } from "effect"
import { readdir } from "node:fs/promises"
import { join } from "node:path"
import { afterAll } from "vitest"
import { RETRY_AFTER_SECONDS } from "../src/Http/ErrorMapping.js"
import { RateLimiterMemory } from "../src/RateLimit/RateLimiter.js"
import { WorkerStatusNone } from "../src/System/WorkerStatus.js"
import { insertHotel } from "./CatalogueFixtures.js"
import { imageDirPath, jpeg, removeDir } from "../../worker/test/ImageFixtures.js"
import { form, send, uploadAs } from "./ImagesSupport.js"
import { makeTestServer, signIn, TestDatabaseName, withAdminClient } from "./support.js"

const dir = imageDirPath()
afterAll(() => removeDir(dir))

/** Whether appends fail, as they do while Redis is unreachable. */
const outage = { on: false }

const FlakyJobs = Layer.effect(
  ImageJobs,
  Effect.map(ImageJobs, (jobs) =>
    ImageJobs.of({
      ...jobs,
      enqueue: (job) =>
        outage.on
          ? Effect.fail(
              new ImageJobsError({ message: "Redis xadd image_jobs failed", cause: new Error("ECONNREFUSED") })
            )
          : jobs.enqueue(job)
    })
  )
).pipe(Layer.provide(ImageJobsMemoryLive))

const Server = makeTestServer(
  { IMAGE_DIR: dir, IMAGE_UPLOAD_WAIT_SECONDS: "1" },
  { services: Layer.mergeAll(RateLimiterMemory, WorkerStatusNone, FlakyJobs) }
)

const imageRows = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => sql<{ id: number }>`SELECT i.id FROM images i LEFT JOIN hotels_images hi ON hi.image_id = i.id`
).pipe(Effect.orDie)

const storedOriginals = Effect.promise(() => readdir(join(dir, ".originals")).catch(() => [] as Array<string>))

layer(Server, { excludeTestServices: true, timeout: "60 seconds" })("an upload while the job stream is down", (it) => {
  it.effect("503 problem with Retry-After, no row and no file left; accepted again once the stream is back", () =>
    Effect.gen(function* () {
      const admin = yield* signIn("admin")
      const hotel = yield* insertHotel()
      const bytes = yield* Effect.promise(() => jpeg(1200, 800))

      outage.on = true
      const refused = yield* uploadAs(admin.token, hotel.id, form(bytes, "lobby.jpg")).pipe(
        Effect.ensuring(Effect.sync(() => (outage.on = false)))
      )
      assert.strictEqual(refused.status, 503, JSON.stringify(refused.json))
      assert.strictEqual(refused.headers["retry-after"], String(RETRY_AFTER_SECONDS))
      assert.strictEqual(refused.headers["content-type"], ProblemContentType)
      assert.deepStrictEqual(refused.json, {
        type: "/problems/service-unavailable",
        title: "Service Unavailable",
        status: 503,
        detail: Messages.imageJobsUnavailable
      })
      assert.deepStrictEqual(yield* imageRows, [], "the row and its hotel link are rolled back")
      assert.deepStrictEqual(yield* storedOriginals, [], "the stored original is removed")

      const accepted = yield* uploadAs(admin.token, hotel.id, form(bytes, "lobby.jpg"))
      assert.strictEqual(accepted.status, 202, JSON.stringify(accepted.json)) // no worker here: still processing
      const id = (accepted.json as { image_id: number }).image_id
      assert.deepStrictEqual(yield* imageRows, [{ id }])
      assert.deepStrictEqual(yield* storedOriginals, [`${id}_lobby.jpg`])
    })
  )

  it.effect("a database outage's 503 (E-91) carries Retry-After", () =>
    Effect.gen(function* () {
      const name = yield* TestDatabaseName
      // every connection of the pool is ended from the database side, and the database refuses new ones
      const allow = (on: boolean) =>
        withAdminClient(async (c) => {
          await c.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS ${on}`)
          if (!on) await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [name])
        })
      yield* allow(false)
      const response = yield* send(HttpClientRequest.get("/hotels")).pipe(Effect.ensuring(allow(true)))
      assert.strictEqual(response.status, 503, JSON.stringify(response.json))
      assert.strictEqual(response.headers["retry-after"], String(RETRY_AFTER_SECONDS))
      assert.strictEqual((response.json as { detail: string }).detail, Messages.databaseUnavailable)
    })
  )
})

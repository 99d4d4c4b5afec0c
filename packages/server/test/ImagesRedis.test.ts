/**
 * Images in production shape (D5): the server on the real Redis (job stream, heartbeats) and the real
 * PostgreSQL, the image worker as a separate process (`packages/worker/src/main.ts`).
 */
import { HttpClientRequest } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Messages } from "@shum/domain/Messages"
import { keys } from "@shum/infra/ImageJobs"
import { Redis } from "@shum/infra/Redis"
import { databaseUrl, deleteImageStream, randomName, REDIS_URL, redisConnection } from "@shum/infra/Testing"
import { Context, Effect, Layer, Schedule } from "effect"
import { join } from "node:path"
import { afterAll } from "vitest"
import { RedisServicesLive } from "../src/Services.js"
import { insertHotel } from "./CatalogueFixtures.js"
import { imageDirPath, jpeg, removeDir, truncatedJpeg } from "../../worker/test/ImageFixtures.js"
import { spawnWorkerScoped } from "../../worker/test/WorkerProcess.js"
import { detailOf, filesOf, form, send, sizeOf, uploadAs } from "./ImagesSupport.js"
import { makeTestServer, signIn, TestDatabaseName } from "./support.js"

const dir = imageDirPath()
const prefix = randomName("shum:test:images:")
afterAll(async () => {
  await removeDir(dir)
  await Effect.runPromise(
    deleteImageStream(prefix).pipe(Effect.provide(Redis.layer(redisConnection)), Effect.scoped, Effect.ignore)
  )
})

const ENV = {
  IMAGE_DIR: dir,
  IMAGE_STREAM: prefix,
  IMAGE_JOB_MAX_ATTEMPTS: "2",
  IMAGE_JOB_RETRY_DELAY_SECONDS: "0",
  IMAGE_UPLOAD_WAIT_SECONDS: "30"
}

type Celery = { status: string; workers?: Array<string> }
const celery = Effect.map(send(HttpClientRequest.get("/health/detailed")), (r) => (r.json as { celery: Celery }).celery)

const eventually = <A, E, R>(what: () => string, check: Effect.Effect<A | undefined, E, R>) =>
  check.pipe(
    Effect.filterOrFail(
      (a): a is A => a !== undefined,
      () => what()
    ),
    Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("60 seconds"))),
    Effect.orDieWith((e) => new Error(`timed out waiting for ${String(e)}`))
  )

layer(makeTestServer(ENV, { services: RedisServicesLive(redisConnection) }), {
  excludeTestServices: true,
  timeout: "180 seconds"
})("images over Redis, with a worker process", (it) => {
  it.scoped("upload → processed by the worker process; a poison image is dead-lettered; SIGTERM exits 0", () =>
    Effect.gen(function* () {
      const name = randomName("worker-test-")
      const worker = yield* spawnWorkerScoped({
        ...ENV,
        DATABASE_URL: databaseUrl(yield* TestDatabaseName),
        REDIS_URL,
        WORKER_NAME: name,
        LOG_LEVEL: "warning"
      })
      // /health/detailed lists it once it beats
      yield* eventually(
        () => `the worker's heartbeat\n${worker.output()}`,
        Effect.map(celery, (c) => (c.status === "ok" && c.workers?.includes(name) ? c : undefined))
      )

      const admin = yield* signIn("admin")
      const hotel = yield* insertHotel()
      const response = yield* uploadAs(
        admin.token,
        hotel.id,
        form(yield* Effect.promise(() => jpeg(1600, 1200)), "lobby.jpg")
      )
      assert.strictEqual(response.status, 200, `${JSON.stringify(response.json)}\n${worker.output()}`)
      const id = (response.json as { image_id: number }).image_id
      assert.deepStrictEqual((yield* filesOf(dir, id)).variants, [
        `${id}_1000w_lobby.jpg`,
        `${id}_200w_lobby.jpg`,
        `${id}_500w_lobby.jpg`
      ])
      for (const [width, height] of [
        [200, 150],
        [500, 375],
        [1000, 750]
      ] as const) {
        const size = yield* sizeOf(join(dir, `${id}_${width}w_lobby.jpg`))
        assert.deepStrictEqual([size.width, size.height], [width, height])
      }

      const poison = yield* uploadAs(
        admin.token,
        hotel.id,
        form(yield* Effect.promise(() => truncatedJpeg(1200, 900)), "poison.jpg")
      )
      assert.strictEqual(poison.status, 400, JSON.stringify(poison.json))
      assert.match(String(detailOf(poison)), /^Ошибка при загрузке изображения: Ошибка при обработке изображения: /)
      const poisonId = yield* Effect.flatMap(
        SqlClient.SqlClient,
        (sql) =>
          sql<{ id: number; status: string; attempts: number; error: string }>`
          SELECT id, status, attempts, error FROM images WHERE filename = 'poison.jpg'`
      ).pipe(Effect.map((rows) => rows[0]!))
      assert.deepStrictEqual([poisonId.status, poisonId.attempts], ["failed", 2])
      assert.strictEqual(`${Messages.uploadFailed(poisonId.error)}`, detailOf(poison))
      const redis = Context.get(yield* Layer.build(Redis.layer(redisConnection)), Redis)
      const k = keys(prefix)
      const dead = (yield* redis.use((c) => c.xrange(k.dead, "-", "+"))) as Array<[string, Array<string>]>
      assert.strictEqual(dead.length, 1)
      const letter = new Map<string, string>()
      dead[0]![1].forEach((value, i, fields) => (i % 2 === 1 ? letter.set(fields[i - 1]!, value) : undefined))
      assert.include(letter.get("job"), `"image_id":${poisonId.id}`)
      assert.strictEqual(letter.get("attempts"), "2")
      assert.include(poisonId.error, letter.get("reason") ?? "(no reason)")
      const [length, pending] = yield* redis.use((c) => Promise.all([c.xlen(k.stream), c.xpending(k.stream, k.group)]))
      assert.deepStrictEqual([length, (pending as [number])[0]], [0, 0], "nothing left in the stream")

      worker.child.kill("SIGTERM")
      const exit = yield* Effect.promise(() => worker.exited)
      assert.strictEqual(exit.code, 0, worker.output())
      const after = yield* celery
      assert.notInclude(after.workers ?? [], name, "a stopped worker retires its heartbeat")
    })
  )
})

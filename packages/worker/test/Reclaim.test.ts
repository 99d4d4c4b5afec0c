/**
 * No job is lost when a worker dies (D5): a worker process is killed (SIGKILL) in the middle of a job; a
 * second worker process takes the job over after the visibility timeout and finishes it — one set of
 * files, one row — and stops cleanly on SIGTERM (exit 0, heartbeat retired). Real PostgreSQL and Redis.
 *
 * "In the middle of a job" is made certain, not timed: the job's original is a named pipe, so the first
 * worker blocks reading it until it is killed; the pipe is then replaced by a real image.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Database from "@shum/infra/Database"
import { defaultSettings, HEARTBEATS_KEY, ImageJob, ImageJobs, keys } from "@shum/infra/ImageJobs"
import * as ImageJobsRedis from "@shum/infra/ImageJobsRedis"
import { Redis } from "@shum/infra/Redis"
import {
  databaseUrl,
  deleteImageStream,
  freshDatabase,
  randomName,
  REDIS_URL,
  redisConnection,
  withClient
} from "@shum/infra/Testing"
import { Effect, Layer, Schedule } from "effect"
import { execFileSync } from "node:child_process"
import { mkdir, readdir, rm, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { originalPath } from "../src/ImageFiles.js"
import { jpeg, temporaryDir } from "./ImageFixtures.js"
import { killQuietly, spawnWorker, type WorkerProcess } from "./WorkerProcess.js"

const eventually = <A, R>(
  what: string,
  check: Effect.Effect<A | undefined, never, R>,
  within = "60 seconds" as const
) =>
  check.pipe(
    Effect.filterOrFail(
      (a): a is A => a !== undefined,
      () => what
    ),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo(within))),
    Effect.orDieWith((e) => new Error(`timed out waiting for ${String(e)}`))
  )

const PendingEntries = (stream: string, group: string) =>
  Effect.flatMap(Redis, (redis) => redis.use((c) => c.xpending(stream, group, "-", "+", 10))).pipe(
    Effect.map((rows) => rows as Array<[string, string, number, number]>),
    Effect.orElseSucceed(() => []) // no group before a worker created it
  )

describe("worker processes (PostgreSQL, Redis)", () => {
  it.scopedLive(
    "a worker killed mid-job: another takes the job over and finishes it; SIGTERM exits 0",
    () =>
      Effect.gen(function* () {
        const database = yield* freshDatabase
        yield* Layer.build(Database.layer(database, { poolSize: 1 })) // migrated
        const dir = yield* temporaryDir
        const prefix = randomName("shum:test:reclaim:")
        const k = keys(prefix)
        const redis = yield* Redis
        yield* Effect.addFinalizer(() => deleteImageStream(prefix).pipe(Effect.ignore))
        const workers: Array<WorkerProcess> = []
        yield* Effect.addFinalizer(() => Effect.sync(() => workers.forEach(killQuietly)))
        const start = (name: string, env: Record<string, string> = {}) => {
          const worker = spawnWorker({
            DATABASE_URL: databaseUrl(database.name),
            REDIS_URL,
            IMAGE_DIR: dir,
            IMAGE_STREAM: prefix,
            WORKER_NAME: name,
            IMAGE_WORKER_CONCURRENCY: "1",
            ...env
          })
          workers.push(worker)
          return worker
        }

        // an image waiting for its worker, whose original cannot be read yet
        const id = yield* withClient(database.name, (c) =>
          c
            .query<{ id: number }>(
              `INSERT INTO images (filename, original_filename, width, height, status, stored_filename)
               VALUES ('slow.jpg', 'slow.jpg', 1200, 800, 'pending', 'slow.jpg') RETURNING id`
            )
            .then((r) => r.rows[0]!.id)
        )
        const original = originalPath(dir, id, "slow.jpg")
        yield* Effect.promise(() => mkdir(join(dir, ".originals"), { recursive: true }))
        execFileSync("mkfifo", [original])
        yield* Effect.flatMap(ImageJobs, (jobs) => jobs.enqueue(new ImageJob({ image_id: id, name: "slow.jpg" }))).pipe(
          Effect.provide(ImageJobsRedis.layer({ ...defaultSettings, prefix }))
        )

        const first = start(randomName("doomed-"), {
          IMAGE_JOB_TIMEOUT_SECONDS: "300",
          IMAGE_JOB_VISIBILITY_TIMEOUT_SECONDS: "600"
        })
        const attempts = withClient(database.name, (c) =>
          c.query<{ attempts: number; status: string }>(`SELECT attempts, status FROM images WHERE id = $1`, [id])
        ).pipe(Effect.map((r) => r.rows[0]!))
        yield* eventually(
          `the first worker to start the job\n${first.output()}`,
          Effect.gen(function* () {
            const pending = yield* PendingEntries(k.stream, k.group)
            const row = yield* attempts
            return pending.length === 1 && pending[0]![1].startsWith("doomed-") && row.attempts === 1 ? true : undefined
          })
        )
        first.child.kill("SIGKILL")
        assert.strictEqual((yield* Effect.promise(() => first.exited)).signal, "SIGKILL")

        // the image becomes readable; a second worker reclaims the dead one's job
        yield* Effect.promise(async () => {
          await rm(original)
          await writeFile(original, await jpeg(1200, 800))
        })
        const rescuer = randomName("rescuer-")
        const second = start(rescuer, { IMAGE_JOB_TIMEOUT_SECONDS: "10", IMAGE_JOB_VISIBILITY_TIMEOUT_SECONDS: "11" })
        yield* eventually(
          `the second worker to finish the job\n${second.output()}`,
          Effect.map(attempts, (row) => (row.status === "done" ? row : undefined))
        )
        assert.deepStrictEqual(yield* attempts, { attempts: 2, status: "done" }, "the dead worker's delivery counted")
        const rows = yield* withClient(database.name, (c) =>
          c.query(`SELECT id FROM images`).then((r) => r.rows.length)
        )
        assert.strictEqual(rows, 1)
        const files = yield* Effect.promise(() => readdir(dir))
        assert.deepStrictEqual(files.sort(), [
          ".originals",
          `${id}_1000w_slow.jpg`,
          `${id}_200w_slow.jpg`,
          `${id}_500w_slow.jpg`
        ])
        assert.deepStrictEqual(yield* Effect.promise(() => readdir(join(dir, ".originals"))), [])
        assert.deepStrictEqual(yield* PendingEntries(k.stream, k.group), [])
        const [length, dead] = yield* redis.use((c) => Promise.all([c.xlen(k.stream), c.xlen(k.dead)]))
        assert.deepStrictEqual([length, dead], [0, 0])
        // the rescuer's heartbeat (its first beat may come after a job this quick is done)
        yield* eventually(
          "the rescuer's heartbeat",
          Effect.map(
            redis.use((c) => c.zrange(HEARTBEATS_KEY, 0, -1)),
            (beats) => (beats.includes(rescuer) ? true : undefined)
          ).pipe(Effect.orDie)
        )

        second.child.kill("SIGTERM")
        const exit = yield* Effect.promise(() => second.exited)
        assert.strictEqual(exit.code, 0, second.output())
        assert.notInclude(yield* redis.use((c) => c.zrange(HEARTBEATS_KEY, 0, -1)), rescuer, "heartbeat retired")
      }).pipe(Effect.provide(Redis.layer(redisConnection))),
    { timeout: 150_000 }
  )
})

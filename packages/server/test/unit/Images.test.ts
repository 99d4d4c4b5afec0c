/**
 * The image upload's rules (docs/api.md §9, D5) against in-memory repositories and job stream, with the real
 * sharp-based `ImageProcessor` on small generated images: the declared type, the hotel, the size, the
 * decoding and the width, in that order, then the pending row, the stored original, the job and the answer
 * the worker's outcome gives. No database, no Redis. `../Images.test.ts` proves it through HTTP end to end.
 */
import "./fakes/NoNetwork.js"
import type * as Multipart from "@effect/platform/Multipart"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Messages } from "@shum/domain/Messages"
import { AppConfig } from "@shum/infra/Config"
import { ImageProcessor } from "@shum/worker/ImageProcessor"
import { Effect, Layer, Ref } from "effect"
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import sharp from "sharp"
import { ImagesService } from "../../src/Images/ImagesService.js"
import { AuditTrailMemory } from "./fakes/AuditTrail.js"
import { problem } from "./fakes/Callers.js"
import { unitConfig } from "./fakes/Environment.js"
import { ImagesMemory, ImagesTables, type WorkerBehaviour } from "./fakes/Images.js"

const HOTEL = 7
const scratch = await mkdtemp(join(tmpdir(), "shum-unit-images-"))
afterAll(() => rm(scratch, { recursive: true, force: true }))

let files = 0
/** An uploaded part as the multipart parser leaves it: a file on disk with the client's name and type. */
const upload = async (bytes: Buffer, contentType: string, name = "photo.jpg"): Promise<Multipart.PersistedFile> => {
  const path = join(scratch, `upload-${++files}`)
  await writeFile(path, bytes)
  // only the fields the service reads; the parser's own object carries inspection methods besides
  return { _tag: "PersistedFile", key: "file", name, contentType, path } as unknown as Multipart.PersistedFile
}

const jpeg = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: "#3366aa" } })
    .jpeg()
    .toBuffer()

const TestLayer = () =>
  ImagesService.DefaultWithoutDependencies.pipe(
    Layer.provideMerge(ImagesMemory([HOTEL])),
    Layer.provide(AuditTrailMemory),
    Layer.provide(ImageProcessor.layer({ maxInputPixels: 50_000_000 })),
    Layer.provideMerge(
      unitConfig({
        IMAGE_DIR: join(scratch, `store-${++files}`),
        MAX_IMAGE_FILE_SIZE_MB: "1",
        IMAGE_UPLOAD_WAIT_SECONDS: "0"
      })
    )
  )

const run = <A, E>(effect: Effect.Effect<A, E, ImagesService | ImagesTables | AppConfig>) =>
  Effect.provide(effect, TestLayer())

const workerWill = (behaviour: WorkerBehaviour) =>
  Effect.flatMap(ImagesTables, ({ worker }) => Ref.set(worker, behaviour))

/** Nothing was written: no row, no job, no original. */
const nothingStored = Effect.gen(function* () {
  const { jobs, rows } = yield* ImagesTables
  assert.deepStrictEqual([rows.size, jobs.length], [0, 0])
})

describe("ImagesService.upload (in-memory repositories, real sharp)", () => {
  it.effect("a declared type other than image/* is 400, before the hotel is looked up", () =>
    run(
      Effect.gen(function* () {
        const images = yield* ImagesService
        const text = yield* Effect.promise(() => upload(Buffer.from("hello"), "text/plain", "notes.txt"))
        for (const hotel of [HOTEL, 999]) {
          const refused = yield* Effect.flip(images.upload(hotel, text))
          assert.deepStrictEqual(problem(refused), { _tag: "BadRequest", detail: Messages.notAnImage })
        }
        // a real image declared as something else is refused all the same
        const mislabelled = yield* Effect.promise(async () => upload(await jpeg(1200, 10), "application/octet-stream"))
        assert.strictEqual((yield* Effect.flip(images.upload(HOTEL, mislabelled)))._tag, "BadRequest")
        yield* nothingStored
      })
    )
  )

  it.effect("a hotel that does not exist is 404", () =>
    run(
      Effect.gen(function* () {
        const file = yield* Effect.promise(async () => upload(await jpeg(1200, 10), "image/jpeg"))
        const missing = yield* Effect.flip((yield* ImagesService).upload(999, file))
        assert.deepStrictEqual(problem(missing), { _tag: "NotFound", detail: Messages.entityNotFound("Отель", 999) })
        yield* nothingStored
      })
    )
  )

  it.effect("a file above MAX_IMAGE_FILE_SIZE_MB is 413 naming the limit, before it is decoded", () =>
    run(
      Effect.gen(function* () {
        const big = yield* Effect.promise(() => upload(randomBytes(1024 * 1024 + 1), "image/jpeg"))
        const refused = yield* Effect.flip((yield* ImagesService).upload(HOTEL, big))
        assert.deepStrictEqual(problem(refused), { _tag: "PayloadTooLarge", detail: Messages.fileTooLarge(1) })
        yield* nothingStored
      })
    )
  )

  it.effect("bytes that do not decode as an image are 400, whatever the declared type", () =>
    run(
      Effect.gen(function* () {
        const images = yield* ImagesService
        const garbage = yield* Effect.promise(() => upload(Buffer.from("not an image at all"), "image/png", "x.png"))
        const refused = yield* Effect.flip(images.upload(HOTEL, garbage))
        assert.deepStrictEqual(problem(refused), { _tag: "BadRequest", detail: Messages.notAnImage })
        const empty = yield* Effect.promise(() => upload(Buffer.alloc(0), "image/jpeg"))
        assert.strictEqual(problem(yield* Effect.flip(images.upload(HOTEL, empty))).detail, Messages.notAnImage)
        yield* nothingStored
      })
    )
  )

  it.effect("an image narrower than 1000 px is 400 naming its width; 1000 px is accepted", () =>
    run(
      Effect.gen(function* () {
        const images = yield* ImagesService
        const narrow = yield* Effect.promise(async () => upload(await jpeg(999, 2000), "image/jpeg"))
        const refused = yield* Effect.flip(images.upload(HOTEL, narrow))
        assert.deepStrictEqual(problem(refused), { _tag: "BadRequest", detail: Messages.imageTooNarrow(999) })
        yield* nothingStored
        const wide = yield* Effect.promise(async () => upload(await jpeg(1000, 2), "image/jpeg"))
        assert.strictEqual((yield* images.upload(HOTEL, wide)).status, "PROCESSING")
      })
    )
  )

  it.effect(
    "an accepted upload: pending row, original stored under its sanitised name, one job; 202 when unsettled",
    () =>
      run(
        Effect.gen(function* () {
          const file = yield* Effect.promise(async () =>
            upload(await jpeg(1600, 900), "IMAGE/JPEG", "../My photo!.jpg")
          )
          const answer = yield* (yield* ImagesService).upload(HOTEL, file)
          assert.deepStrictEqual({ ...answer }, { status: "PROCESSING", image_id: 1 })
          const { jobs, rows } = yield* ImagesTables
          const row = rows.get(1)!
          assert.deepStrictEqual(
            [row.status, row.width, row.height, row.hotelId, row.original_filename],
            ["pending", 1600, 900, HOTEL, "../My photo!.jpg"]
          )
          assert.notInclude(row.stored_filename, "/")
          assert.deepStrictEqual(
            jobs.map((job) => [job.image_id, job.name]),
            [[1, row.stored_filename]]
          )
          const { dir } = (yield* AppConfig).images
          const originals = yield* Effect.promise(() => readdir(join(dir, ".originals")))
          assert.deepStrictEqual(originals, [`1_${row.stored_filename}`])
        })
      )
  )

  it.effect("the worker's outcome is the answer: done → OK, failed → 400 with its reason", () =>
    run(
      Effect.gen(function* () {
        const images = yield* ImagesService
        yield* workerWill({ _tag: "Done" })
        const done = yield* images.upload(
          HOTEL,
          yield* Effect.promise(async () => upload(await jpeg(1200, 800), "image/jpeg"))
        )
        assert.deepStrictEqual({ ...done }, { status: "OK", image_id: 1, message: Messages.imageUploaded })
        yield* workerWill({ _tag: "Failed", reason: "corrupt scan data" })
        const failed = yield* Effect.flip(
          images.upload(HOTEL, yield* Effect.promise(async () => upload(await jpeg(1200, 800), "image/jpeg")))
        )
        assert.deepStrictEqual(problem(failed), {
          _tag: "BadRequest",
          detail: Messages.uploadFailed("corrupt scan data")
        })
      })
    )
  )

  it.effect("a job that cannot be queued undoes the upload: 503, no row, no original", () =>
    run(
      Effect.gen(function* () {
        yield* workerWill({ _tag: "Unreachable" })
        const file = yield* Effect.promise(async () => upload(await jpeg(1200, 800), "image/jpeg", "a.jpg"))
        const refused = yield* Effect.flip((yield* ImagesService).upload(HOTEL, file))
        assert.deepStrictEqual(problem(refused), {
          _tag: "ServiceUnavailable",
          detail: Messages.imageJobsUnavailable
        })
        yield* nothingStored
        const { dir } = (yield* AppConfig).images
        assert.isFalse(existsSync(join(dir, ".originals", "1_a.jpg")))
      })
    )
  )
})

/**
 * Hotel images (docs/api.md §8.8, §9; D5). The upload validates in the order the contract gives, stores the
 * original, creates the `pending` row with its hotel link, queues a job for the image worker, and then
 * waits — without holding anything but its own fiber — for the worker to settle the image, up to
 * `IMAGE_UPLOAD_WAIT_SECONDS`: done → 200, still running → 202, failed → 400 with the reason.
 */
import type * as Multipart from "@effect/platform/Multipart"
import { BadRequest, NotFound, PayloadTooLarge, ServiceUnavailable } from "@shum/domain/Errors"
import { Image, ImageProcessing, ImageUpload, ImageVariant } from "@shum/domain/Images"
import { Messages } from "@shum/domain/Messages"
import { AppConfig } from "@shum/infra/Config"
import { ImageJob, ImageJobs } from "@shum/infra/ImageJobs"
import { currentTraceparent } from "@shum/infra/Traceparent"
import {
  DEFAULT_NAME,
  MIN_WIDTH,
  ORIGINALS_DIR,
  originalPath,
  storedName,
  VARIANT_WIDTHS,
  variantHeight,
  variantName,
  variantPaths
} from "@shum/worker/ImageFiles"
import { ImageProcessor } from "@shum/worker/ImageProcessor"
import { removeFiles } from "@shum/worker/ImageWorker"
import { Clock, Duration, Effect, Option, Queue } from "effect"
import { copyFile, mkdir, stat } from "node:fs/promises"
import { dirname, join } from "node:path"
import { AuditTrail } from "../Audit/AuditTrail.js"
import { HotelsRepo } from "../Catalogue/HotelsRepo.js"
import { type ImageRow, ImagesRepo } from "./ImagesRepo.js"

/** Between two looks at the row when no completion notice arrives (notices are best effort). */
const POLL_INTERVAL = Duration.seconds(1)
const MAX_NAME = 255

export class ImagesService extends Effect.Service<ImagesService>()("server/ImagesService", {
  effect: Effect.gen(function* () {
    const config = yield* AppConfig
    const repo = yield* ImagesRepo
    const hotels = yield* HotelsRepo
    const jobs = yield* ImageJobs
    const processor = yield* ImageProcessor
    // an admin's upload and delete leave their audit rows, in their transactions (docs/decisions.md D17)
    const audit = yield* AuditTrail
    const { dir, maxFileSizeBytes, maxFileSizeMb, uploadWait } = config.images

    const hotelNotFound = (id: number) => new NotFound({ detail: Messages.entityNotFound("Отель", id) })
    const ensureHotel = (id: number) =>
      Effect.flatMap(hotels.exists(id), (exists) => (exists ? Effect.void : Effect.fail(hotelNotFound(id))))

    /** The files of an image: new ones use the sanitised name, the original's used the client's. */
    const fileName = (row: ImageRow) => row.stored_filename ?? row.original_filename

    /**
     * docs/decisions.md D14: the name an answer shows is the one on disk, never the client's path (which the
     * row keeps, as data). Rows the original service wrote have no sanitised name: their last path segment.
     */
    const shownName = (row: ImageRow) => row.stored_filename ?? row.original_filename.split(/[/\\]/).pop() ?? ""

    const toImage = (row: ImageRow) =>
      new Image({
        id: row.id,
        filename: shownName(row),
        original_filename: shownName(row),
        width: row.width,
        height: row.height,
        status: row.status,
        variants:
          row.status !== "done"
            ? []
            : VARIANT_WIDTHS.map(
                (width) =>
                  new ImageVariant({
                    width,
                    height: variantHeight(row.width, row.height, width),
                    url: `${config.http.rootPath}/static/images/${encodeURIComponent(variantName(row.id, width, fileName(row)))}`
                  })
              )
      })

    /** Until the row is settled or the wait is over; a completion notice cuts a poll interval short. */
    const outcome = (id: number) =>
      Effect.gen(function* () {
        const notices = yield* jobs.subscribeSettled
        const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(uploadWait)
        const notice = Effect.iterate(-1, { while: (settled) => settled !== id, body: () => Queue.take(notices) })
        while (true) {
          const row = yield* repo.find(id)
          if (Option.isNone(row)) return yield* new NotFound({ detail: Messages.imageNotFound })
          if (row.value.status === "done") {
            return new ImageUpload({ status: "OK", image_id: id, message: Messages.imageUploaded })
          }
          if (row.value.status === "failed") {
            return yield* new BadRequest({
              detail: Messages.uploadFailed(row.value.error ?? Messages.processingFailed(""))
            })
          }
          const left = deadline - (yield* Clock.currentTimeMillis)
          if (left <= 0) return new ImageProcessing({ status: "PROCESSING", image_id: id })
          yield* notice.pipe(Effect.timeout(Math.min(left, Duration.toMillis(POLL_INTERVAL))), Effect.ignore)
        }
      }).pipe(Effect.scoped)

    const upload = Effect.fn("Images.upload")(function* (hotelId: number, file: Multipart.PersistedFile) {
      if (!file.contentType.toLowerCase().startsWith("image/"))
        return yield* new BadRequest({ detail: Messages.notAnImage })
      yield* ensureHotel(hotelId)
      // the multipart limit already stopped the body at the limit; this only guards the contract
      const size = yield* Effect.promise(() => stat(file.path).then((s) => s.size))
      if (size > maxFileSizeBytes) return yield* new PayloadTooLarge({ detail: Messages.fileTooLarge(maxFileSizeMb) })
      const probe = yield* processor
        .probe(file.path)
        .pipe(Effect.mapError(() => new BadRequest({ detail: Messages.notAnImage })))
      if (probe.width < MIN_WIDTH) return yield* new BadRequest({ detail: Messages.imageTooNarrow(probe.width) })

      const clientName = (file.name === "" ? DEFAULT_NAME : file.name).slice(0, MAX_NAME)
      const name = storedName(clientName, probe.format)
      const id = yield* audit.write(
        { action: "image.uploaded", entity: "image", idOf: (id) => id },
        repo.create(
          hotelId,
          {
            filename: clientName,
            original_filename: clientName,
            width: probe.width,
            height: probe.height,
            stored_filename: name
          },
          (id) =>
            Effect.promise(async () => {
              const target = originalPath(dir, id, name)
              await mkdir(dirname(target), { recursive: true })
              await copyFile(file.path, target)
            })
        )
      )
      yield* Effect.annotateCurrentSpan({ "image.id": id })
      const traceparent = yield* currentTraceparent
      // The row comes first (a job must never name a row the worker cannot see yet); without its job the
      // image would stay pending, so an append that fails (Redis unreachable) undoes the upload: no row, no
      // file, and a 503 with `Retry-After` (docs/operations.md). Should the undo itself fail, the pending row
      // is queued again by the workers' re-queue of lost jobs.
      yield* jobs
        .enqueue(new ImageJob({ image_id: id, name, ...(traceparent ? { traceparent } : {}) }))
        .pipe(
          Effect.catchAll((error) =>
            Effect.logWarning(`image upload refused, its job cannot be queued: ${error.message}`, error.cause).pipe(
              Effect.zipRight(audit.write({ action: "image.deleted", entity: "image", id }, repo.remove(id))),
              Effect.zipRight(removeFiles([originalPath(dir, id, name)])),
              Effect.zipRight(new ServiceUnavailable({ detail: Messages.imageJobsUnavailable }))
            )
          )
        )
      return yield* outcome(id)
    })

    const listByHotel = (hotelId: number) =>
      Effect.zipRight(
        ensureHotel(hotelId),
        Effect.map(repo.byHotel(hotelId), (rows) => rows.map(toImage))
      )

    /** The row, its hotel links and every file of it: the variants and a remaining original. */
    const remove = Effect.fn("Images.delete")(function* (id: number) {
      const row = yield* audit.write({ action: "image.deleted", entity: "image", id }, repo.remove(id))
      if (Option.isNone(row)) return yield* new NotFound({ detail: Messages.imageNotFound })
      const name = fileName(row.value)
      // an image of the original may have kept an unsafe client name: never reach outside the store
      const inStore = (path: string) => [dir, join(dir, ORIGINALS_DIR)].includes(dirname(path))
      yield* removeFiles([...variantPaths(dir, id, name), originalPath(dir, id, name)].filter(inStore))
    })

    return { upload, listByHotel, remove } as const
  }),
  dependencies: [ImagesRepo.Default, HotelsRepo.Default, ImageProcessor.Default, AuditTrail.Default]
}) {}

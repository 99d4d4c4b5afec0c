/**
 * The `images` group (docs/api.md §8.8, D5), and two pieces of HTTP outside the contract:
 * - the multipart limits of the upload, applied while the body streams in: the file part stops at
 *   `MAX_IMAGE_FILE_SIZE_MB`, the whole body at that plus 1 MiB of envelope (as the edge proxy), and the
 *   error mapping answers 413 E-61 (`Http/ErrorMapping.ts`);
 * - `GET /static/images/<file>`: the variants, served by nginx in deployment and by the server itself so
 *   the embedded default works alone. Plain names only (no directory, nothing hidden), cached for 30 days.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Multipart from "@effect/platform/Multipart"
import { ShumApi } from "@shum/domain/Api"
import { Message } from "@shum/domain/Common"
import * as Errors from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { AppConfig } from "@shum/infra/Config"
import { isPublicName } from "@shum/worker/ImageFiles"
import { Effect, Layer, Option } from "effect"
import { join } from "node:path"
import { problemResponse } from "../Http/ErrorMapping.js"
import { ImagesService } from "./Service.js"

export const ImagesLive = HttpApiBuilder.group(ShumApi, "images", (handlers) =>
  Effect.gen(function* () {
    const images = yield* ImagesService
    return handlers
      .handle("upload", ({ path, payload }) => images.upload(path.hotel_id, payload.file))
      .handle("listByHotel", ({ path }) => images.listByHotel(path.hotel_id))
      .handle("delete", ({ path }) => images.remove(path.image_id).pipe(Effect.as(Message.ok)))
  })
)

const ENVELOPE = 1024 * 1024

export const UploadLimitsLive = HttpApiBuilder.middleware(
  Effect.map(
    AppConfig,
    ({ images }) =>
      (app) =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          (request.headers["content-type"] ?? "").toLowerCase().includes("multipart/form-data")
            ? Multipart.withLimits(app, {
                maxFileSize: Option.some(images.maxFileSizeBytes),
                maxTotalSize: Option.some(images.maxFileSizeBytes + ENVELOPE)
              })
            : app
        )
  )
)

const CACHE_HEADERS = { "cache-control": "public, max-age=2592000, immutable" }

const notFound = problemResponse(Errors.NotFoundProblem, new Errors.NotFound({ detail: Messages.notFoundRoute }))

export const StaticImagesLive = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function* () {
    const { images } = yield* AppConfig
    yield* router.get(
      "/static/images/:file",
      Effect.gen(function* () {
        const { file } = yield* HttpRouter.params
        if (file === undefined || !isPublicName(file)) return notFound
        return yield* HttpServerResponse.file(join(images.dir, file), { headers: CACHE_HEADERS }).pipe(
          Effect.catchAll(() => Effect.succeed(notFound))
        )
      })
    )
  })
)

/** What `Http.ts` adds next to the API: the upload's limits and the image files. */
export const ImagesHttpLive = Layer.mergeAll(UploadLimitsLive, StaticImagesLive)

/**
 * Image decoding and resizing with sharp (D5): the upload's header check (`probe`) and the worker's
 * variants (`writeVariants`). Both refuse inputs above `IMAGE_MAX_INPUT_PIXELS` (sharp's
 * `limitInputPixels`) before decoding any pixel, so a decompression bomb — a small file declaring huge
 * dimensions — costs nothing. Variants honour the EXIF orientation and carry no metadata (GPS included).
 */
import { imageProcessor } from "@shum/infra/Config"
import { JobFailed } from "@shum/infra/ImageJobs"
import { Effect, Layer, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { rename, rm } from "node:fs/promises"
import { join } from "node:path"
import sharp, { type Sharp } from "sharp"
import { outputFormat, VARIANT_WIDTHS, variantHeight, variantName } from "./ImageFiles.js"

export class UndecodableImage extends Schema.TaggedError<UndecodableImage>()("UndecodableImage", {
  reason: Schema.String
}) {}

export interface Probe {
  /** As displayed: after the EXIF orientation. */
  readonly width: number
  readonly height: number
  /** sharp's name of the decoded format (`jpeg`, `png`, …). */
  readonly format: string
}

export interface VariantsRequest {
  readonly source: string
  readonly dir: string
  readonly imageId: number
  /** The sanitised name: variants are `{imageId}_{width}w_{name}`, encoded as its extension says. */
  readonly name: string
  /** The original's (oriented) size, as recorded at upload: the variants' heights derive from it. */
  readonly width: number
  readonly height: number
}

export interface ImageProcessorOptions {
  /** Inputs with more pixels are refused unread (sharp's default is 268 MP; a photo rarely has 50). */
  readonly maxInputPixels: number
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error))

const encode = (image: Sharp, name: string): Sharp => {
  switch (outputFormat(name)) {
    case "jpeg":
      return image.flatten({ background: "#ffffff" }).jpeg({ quality: 85, mozjpeg: true })
    case "png":
      return image.png({ compressionLevel: 8 })
    case "webp":
      return image.webp({ quality: 85 })
    case "gif":
      return image.gif()
    case "tiff":
      return image.tiff({ quality: 85 })
    case "avif":
      return image.avif({ quality: 60 })
  }
}

export const make = (options: ImageProcessorOptions) => {
  // Every image is new to a worker: libvips' operation cache would only hold memory.
  sharp.cache(false)
  const input = (source: string) => sharp(source, { limitInputPixels: options.maxInputPixels, sequentialRead: true })

  const probe = (path: string): Effect.Effect<Probe, UndecodableImage> =>
    Effect.tryPromise({
      try: () => input(path).metadata(),
      catch: (error) => new UndecodableImage({ reason: message(error) })
    }).pipe(
      Effect.flatMap((metadata) => {
        const width = metadata.autoOrient?.width ?? metadata.width
        const height = metadata.autoOrient?.height ?? metadata.height
        return width > 0 && height > 0
          ? Effect.succeed({ width, height, format: metadata.format })
          : Effect.fail(new UndecodableImage({ reason: "no dimensions" }))
      }),
      Effect.withSpan("ImageProcessor.probe")
    )

  /**
   * Decodes once to the largest variant, then derives the smaller ones from it. Each file is written under
   * a temporary hidden name and renamed into place, so a file is never seen half written and a rerun
   * simply replaces it (idempotent). Returns the variants' paths.
   */
  const writeVariants = (request: VariantsRequest): Effect.Effect<ReadonlyArray<string>, JobFailed> =>
    Effect.gen(function* () {
      const largest = Math.max(...VARIANT_WIDTHS)
      const size = (width: number) => ({ width, height: variantHeight(request.width, request.height, width) })
      const base = yield* Effect.tryPromise({
        try: () =>
          input(request.source)
            .rotate()
            .resize({ ...size(largest), fit: "fill" })
            .raw()
            .toBuffer({ resolveWithObject: true }),
        catch: (error) => new JobFailed({ reason: message(error) })
      })
      const raw = { raw: { width: base.info.width, height: base.info.height, channels: base.info.channels } }
      return yield* Effect.forEach(
        VARIANT_WIDTHS,
        (width) => {
          const target = join(request.dir, variantName(request.imageId, width, request.name))
          const temporary = join(request.dir, `.tmp-${randomUUID()}`)
          const resized = sharp(base.data, raw).resize({ ...size(width), fit: "fill" })
          return Effect.tryPromise({
            try: async () => {
              try {
                await encode(resized, request.name).toFile(temporary)
                await rename(temporary, target)
              } finally {
                await rm(temporary, { force: true })
              }
              return target
            },
            catch: (error) => new JobFailed({ reason: message(error) })
          })
        },
        { concurrency: VARIANT_WIDTHS.length }
      )
    }).pipe(
      Effect.withSpan("ImageProcessor.writeVariants", {
        attributes: { "image.id": request.imageId, "image.width": request.width, "image.height": request.height }
      })
    )

  return { probe, writeVariants, options } as const
}

export class ImageProcessor extends Effect.Service<ImageProcessor>()("worker/ImageProcessor", {
  /** With `IMAGE_MAX_INPUT_PIXELS` (`Config.imageProcessor`, default 50 000 000). */
  effect: Effect.map(imageProcessor, make)
}) {
  static readonly layer = (options: ImageProcessorOptions) =>
    Layer.succeed(ImageProcessor, ImageProcessor.make(make(options)))
}

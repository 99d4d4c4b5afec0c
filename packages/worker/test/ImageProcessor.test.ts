import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readdir, stat, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { make } from "../src/ImageProcessor.js"
import {
  jpeg,
  metadataOf,
  pngBomb,
  pngWithAlpha,
  sidewaysJpegWithGps,
  temporaryDir,
  truncatedJpeg
} from "./ImageFixtures.js"

const processor = make({ maxInputPixels: 50_000_000 })

const write = (dir: string, name: string, bytes: Uint8Array) =>
  Effect.promise(async () => {
    const path = join(dir, name)
    await writeFile(path, bytes)
    return path
  })

describe("ImageProcessor (sharp)", () => {
  it.scopedLive("writes the 200/500/1000 px variants in the name's format, floor heights; a rerun rewrites them", () =>
    Effect.gen(function* () {
      const dir = yield* temporaryDir
      const source = yield* write(dir, "in", yield* Effect.promise(() => pngWithAlpha(1300, 977)))
      const probe = yield* processor.probe(source)
      assert.deepStrictEqual(probe, { width: 1300, height: 977, format: "png" })
      const request = { source, dir, imageId: 5, name: "pool.png", width: probe.width, height: probe.height }
      const paths = yield* processor.writeVariants(request)
      assert.deepStrictEqual(
        paths,
        [200, 500, 1000].map((w) => join(dir, `5_${w}w_pool.png`))
      )
      for (const width of [200, 500, 1000]) {
        const m = yield* metadataOf(join(dir, `5_${width}w_pool.png`))
        assert.deepStrictEqual(
          [m.width, m.height, m.format, m.hasAlpha],
          [width, Math.floor((width * 977) / 1300), "png", true]
        )
      }
      const before = (yield* Effect.promise(() => stat(join(dir, "5_500w_pool.png")))).mtimeMs
      yield* Effect.sleep("20 millis")
      yield* processor.writeVariants(request)
      assert.isAbove((yield* Effect.promise(() => stat(join(dir, "5_500w_pool.png")))).mtimeMs, before)
      assert.deepStrictEqual((yield* Effect.promise(() => readdir(dir))).sort(), [
        "5_1000w_pool.png",
        "5_200w_pool.png",
        "5_500w_pool.png",
        "in"
      ])
    })
  )

  it.scoped("the output format follows the name's extension (a JPEG named .webp gives WebP)", () =>
    Effect.gen(function* () {
      const dir = yield* temporaryDir
      const source = yield* write(dir, "in", yield* Effect.promise(() => jpeg(1000, 1000)))
      yield* processor.writeVariants({ source, dir, imageId: 6, name: "x.webp", width: 1000, height: 1000 })
      assert.strictEqual((yield* metadataOf(join(dir, "6_200w_x.webp"))).format, "webp")
    })
  )

  it.scoped("applies the EXIF orientation and strips metadata (GPS)", () =>
    Effect.gen(function* () {
      const dir = yield* temporaryDir
      const source = yield* write(dir, "in", yield* Effect.promise(() => sidewaysJpegWithGps(1600, 1200)))
      const probe = yield* processor.probe(source)
      assert.deepStrictEqual([probe.width, probe.height], [1200, 1600])
      yield* processor.writeVariants({
        source,
        dir,
        imageId: 7,
        name: "s.jpg",
        width: probe.width,
        height: probe.height
      })
      const m = yield* metadataOf(join(dir, "7_1000w_s.jpg"))
      assert.deepStrictEqual([m.width, m.height], [1000, 1333])
      assert.isUndefined(m.exif)
      assert.isUndefined(m.orientation)
    })
  )

  it.scoped("a decompression bomb is refused before any pixel is decoded", () =>
    Effect.gen(function* () {
      const dir = yield* temporaryDir
      const source = yield* write(dir, "bomb.png", pngBomb(30_000))
      const before = process.memoryUsage().rss
      const started = Date.now()
      const probe = yield* Effect.flip(processor.probe(source))
      assert.include(probe.reason, "pixel limit")
      const job = yield* Effect.flip(
        processor.writeVariants({ source, dir, imageId: 8, name: "b.png", width: 30_000, height: 30_000 })
      )
      assert.include(job.reason, "pixel limit")
      assert.isBelow(Date.now() - started, 5_000)
      assert.isBelow(process.memoryUsage().rss - before, 100 * 1024 * 1024)
      // the limit is a setting: a 1.2 MP image over a 1 MP limit
      const small = make({ maxInputPixels: 1_000_000 })
      const big = yield* write(dir, "big.jpg", yield* Effect.promise(() => jpeg(1200, 1000)))
      assert.include((yield* Effect.flip(small.probe(big))).reason, "pixel limit")
    })
  )

  it.scoped("undecodable pixels fail the job (JobFailed) and leave no file behind", () =>
    Effect.gen(function* () {
      const dir = yield* temporaryDir
      const source = yield* write(dir, "in", yield* Effect.promise(() => truncatedJpeg(1200, 800)))
      assert.strictEqual((yield* processor.probe(source)).width, 1200, "the header decodes")
      const error = yield* Effect.flip(
        processor.writeVariants({ source, dir, imageId: 9, name: "p.jpg", width: 1200, height: 800 })
      )
      assert.strictEqual(error._tag, "JobFailed")
      assert.deepStrictEqual(yield* Effect.promise(() => readdir(dir)), ["in"])
      const missing = yield* Effect.flip(
        processor.writeVariants({ source: join(dir, "gone"), dir, imageId: 9, name: "p.jpg", width: 1200, height: 800 })
      )
      assert.strictEqual(missing._tag, "JobFailed")
    })
  )
})

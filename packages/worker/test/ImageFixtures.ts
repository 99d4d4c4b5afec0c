/**
 * Image fixtures shared by the worker's and the server's tests: images made with sharp (plain, with alpha,
 * sideways with a GPS position, truncated, a decompression bomb) and a temporary image store.
 */
import { randomName } from "@shum/infra/Testing"
import { Effect } from "effect"
import { mkdir, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { crc32, deflateSync } from "node:zlib"
import sharp from "sharp"

/** A fresh path for an `IMAGE_DIR` (not created: the server creates it); remove it with `removeDir` after the tests. */
export const imageDirPath = () => join(tmpdir(), randomName("shum-images-"))

export const removeDir = (dir: string) => rm(dir, { recursive: true, force: true })

/** An image store of its own, removed when the scope closes. */
export const temporaryDir = Effect.acquireRelease(
  Effect.promise(async () => {
    const dir = imageDirPath()
    await mkdir(dir, { recursive: true })
    return dir
  }),
  (dir) => Effect.promise(() => removeDir(dir))
)

export const jpeg = (width: number, height: number, background = "#3366aa") =>
  sharp({ create: { width, height, channels: 3, background } })
    .jpeg({ quality: 80 })
    .toBuffer()

export const pngWithAlpha = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } })
    .png()
    .toBuffer()

/** Stored sideways (EXIF orientation 6) with a GPS position: displayed `height`×`width`. */
export const sidewaysJpegWithGps = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: "#884422" } })
    .withExif({ IFD0: { Copyright: "test" }, IFD3: { GPSLatitudeRef: "N", GPSLatitude: "55/1 45/1 0/1" } })
    .withMetadata({ orientation: 6 })
    .jpeg()
    .toBuffer()

/** Half a JPEG: its header decodes (dimensions are known), its pixels do not. */
export const truncatedJpeg = (width: number, height: number) =>
  jpeg(width, height).then((bytes) => bytes.subarray(0, Math.floor(bytes.length / 2)))

/**
 * A decompression bomb: a valid 1-bit PNG of `size`×`size` pixels (900 megapixels for 30000) whose
 * all-zero rows deflate to about 100 KB.
 */
export const pngBomb = (size = 30_000) => {
  const rows = Buffer.alloc(size * (1 + Math.ceil(size / 8)))
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type, "latin1"), data])
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(body))
    return Buffer.concat([length, body, crc])
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(size, 0)
  header.writeUInt32BE(size, 4)
  header[8] = 1 // bit depth
  header[9] = 0 // greyscale
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows, { level: 9 })),
    chunk("IEND", Buffer.alloc(0))
  ])
}

export const metadataOf = (path: string) => Effect.promise(() => sharp(path).metadata())

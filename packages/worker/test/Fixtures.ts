/**
 * Images for the worker's tests, made with sharp; a temporary image store.
 */
import { Effect } from "effect"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { crc32, deflateSync } from "node:zlib"
import sharp from "sharp"

export const temporaryDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "shum-worker-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

export const jpeg = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: "#3366aa" } })
    .jpeg()
    .toBuffer()

export const pngWithAlpha = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } })
    .png()
    .toBuffer()

/** Stored sideways (EXIF orientation 6) with a GPS position: displayed `height`×`width`. */
export const sidewaysJpegWithGps = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: "#884422" } })
    .withExif({ IFD3: { GPSLatitudeRef: "N", GPSLatitude: "55/1 45/1 0/1" } })
    .withMetadata({ orientation: 6 })
    .jpeg()
    .toBuffer()

/** Half a JPEG: its header decodes, its pixels do not. */
export const truncatedJpeg = (width: number, height: number) =>
  jpeg(width, height).then((bytes) => bytes.subarray(0, Math.floor(bytes.length / 2)))

/** A valid 1-bit PNG of `size`×`size` pixels whose zero rows deflate to ~100 KB (900 MP for 30000). */
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
  header[8] = 1
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows, { level: 9 })),
    chunk("IEND", Buffer.alloc(0))
  ])
}

export const metadataOf = (path: string) => Effect.promise(() => sharp(path).metadata())

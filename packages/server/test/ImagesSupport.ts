/**
 * Helpers of the image tests: images made with sharp, a temporary image store, multipart uploads.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { randomName } from "@shum/infra/Testing"
import { Effect } from "effect"
import { readdir, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { deflateSync, crc32 } from "node:zlib"
import sharp from "sharp"
import { spawnWorker as spawnWorkerProcess } from "../../worker/test/WorkerProcess.js"

/** A fresh path for a layer's `IMAGE_DIR` (the server creates it); remove it with `removeDir` after the tests. */
export const imageDirPath = () => join(tmpdir(), randomName("shum-images-"))

export const removeDir = (dir: string) => rm(dir, { recursive: true, force: true })

export const jpeg = (width: number, height: number, background = "#3366aa") =>
  sharp({ create: { width, height, channels: 3, background } })
    .jpeg({ quality: 80 })
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
  const row = Buffer.alloc(1 + Math.ceil(size / 8))
  const rows = Buffer.concat(Array.from({ length: size }, () => row))
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

export const form = (bytes: Uint8Array, name: string, type = "image/jpeg", field = "file") => {
  const data = new FormData()
  data.append(field, new Blob([bytes], { type }), name)
  return data
}

export interface RawResponse {
  readonly status: number
  readonly headers: Record<string, string>
  readonly json: unknown
}

export const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function* () {
    const response = yield* (yield* HttpClient.HttpClient).execute(request)
    const text = yield* response.text
    let json: unknown = text
    try {
      json = JSON.parse(text)
    } catch {
      // not JSON: kept as text
    }
    return { status: response.status, headers: response.headers, json } as RawResponse
  })

export const uploadAs = (token: string | undefined, hotelId: number, body: FormData) =>
  send(
    HttpClientRequest.post(`/images/upload/${hotelId}`).pipe(
      token === undefined ? (r) => r : HttpClientRequest.bearerToken(token),
      HttpClientRequest.bodyFormData(body)
    )
  )

export const listImages = (hotelId: number) => send(HttpClientRequest.get(`/images/hotel/${hotelId}`))

export const deleteImage = (token: string, imageId: number) =>
  send(HttpClientRequest.del(`/images/${imageId}`).pipe(HttpClientRequest.bearerToken(token)))

/** The files of an image in the store (variants; `.originals` listed apart). */
export const filesOf = (dir: string, imageId: number) =>
  Effect.promise(async () => ({
    variants: (await readdir(dir)).filter((f) => f.startsWith(`${imageId}_`)).sort(),
    originals: (await readdir(join(dir, ".originals")).catch(() => [] as Array<string>)).filter((f) =>
      f.startsWith(`${imageId}_`)
    ),
    temporary: (await readdir(dir)).filter((f) => f.startsWith(".tmp-"))
  }))

export const sizeOf = (path: string) =>
  Effect.promise(() => sharp(path).metadata()).pipe(
    Effect.map((m) => ({
      width: m.width,
      height: m.height,
      format: m.format,
      exif: m.exif,
      orientation: m.orientation
    }))
  )

export const detailOf = (response: RawResponse) => (response.json as { readonly detail?: unknown }).detail

/** `packages/worker/src/main.ts` as a child process (what `npm run worker` starts), SIGKILLed with the scope. */
export const spawnWorker = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => spawnWorkerProcess(env)),
    ({ child }) =>
      Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      })
  )

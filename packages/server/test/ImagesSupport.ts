/**
 * Helpers of the server's image tests: multipart uploads, the image endpoints, the files of an image. The
 * images themselves and the temporary image store are `worker/test/ImageFixtures.ts` (shared with the
 * worker's tests); the worker process is `worker/test/WorkerProcess.ts`.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect } from "effect"
import { readdir } from "node:fs/promises"
import { join } from "node:path"
import sharp from "sharp"

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

/**
 * Images in the embedded default (D5, D10): the real server over its own database, the in-memory job
 * stream and the image worker running in the same process — the layers `npm start` uses without Redis.
 */
import { HttpClientRequest, HttpServer } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Messages } from "@shum/domain/Messages"
import { ImageJobsMemoryLive } from "@shum/infra/ImageJobsMemory"
import { Effect, Layer } from "effect"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { afterAll } from "vitest"
import { EMBEDDED_WORKER_NAME, InProcessImageWorkerLive } from "../src/Images/InProcessImageWorker.js"
import { insertHotel } from "./CatalogueFixtures.js"
import {
  imageDirPath,
  jpeg,
  pngBomb,
  removeDir,
  sidewaysJpegWithGps,
  truncatedJpeg
} from "../../worker/test/ImageFixtures.js"
import { deleteImage, detailOf, filesOf, form, listImages, send, sizeOf, uploadAs } from "./ImagesSupport.js"
import { streamBody } from "./StreamedBody.js"
import { configProvider, makeTestServer, signIn } from "./support.js"

const dir = imageDirPath()
const otherDir = imageDirPath()
afterAll(() => Promise.all([removeDir(dir), removeDir(otherDir)]))

const ENV = {
  IMAGE_DIR: dir,
  MAX_IMAGE_FILE_SIZE_MB: "1",
  IMAGE_UPLOAD_WAIT_SECONDS: "20",
  IMAGE_JOB_MAX_ATTEMPTS: "3",
  IMAGE_JOB_RETRY_DELAY_SECONDS: "0",
  ROOT_PATH: "/apps/shum-booking"
}

/** The server plus the in-process worker, on one in-memory job stream (the same Layer, built once). */
const Embedded = InProcessImageWorkerLive.pipe(
  Layer.provideMerge(makeTestServer(ENV)),
  Layer.provide(ImageJobsMemoryLive),
  Layer.provide(Layer.setConfigProvider(configProvider({ DATABASE_URL: "postgres://unused", ...ENV })))
)

const rowOf = (id: number) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ status: string; attempts: number; error: string | null }>`
    SELECT status, attempts, error FROM images WHERE id = ${id}`
  ).pipe(Effect.map((rows) => rows[0]))

layer(Embedded, { excludeTestServices: true, timeout: "120 seconds" })("images, embedded default", (it) => {
  it.effect("upload → 200; three variants 200/500/1000 wide, floor heights; listed with status and urls; served", () =>
    Effect.gen(function* () {
      const admin = yield* signIn("admin")
      const hotel = yield* insertHotel()
      const response = yield* uploadAs(
        admin.token,
        hotel.id,
        form(yield* Effect.promise(() => jpeg(1200, 800)), "photo.jpg")
      )
      assert.strictEqual(response.status, 200, JSON.stringify(response.json))
      const body = response.json as { status: string; image_id: number; message: string }
      assert.deepStrictEqual(body, { status: "OK", image_id: body.image_id, message: Messages.imageUploaded })
      const id = body.image_id

      const files = yield* filesOf(dir, id)
      assert.deepStrictEqual(files.variants, [`${id}_1000w_photo.jpg`, `${id}_200w_photo.jpg`, `${id}_500w_photo.jpg`])
      assert.deepStrictEqual(files.originals, [], "the original is removed once its variants exist")
      assert.deepStrictEqual(files.temporary, [])
      for (const [width, height] of [
        [200, 133],
        [500, 333],
        [1000, 666]
      ] as const) {
        const size = yield* sizeOf(join(dir, `${id}_${width}w_photo.jpg`))
        assert.deepStrictEqual([size.width, size.height, size.format], [width, height, "jpeg"])
      }

      const listed = yield* listImages(hotel.id)
      assert.strictEqual(listed.status, 200)
      const [image] = listed.json as Array<Record<string, unknown>>
      assert.deepStrictEqual(Object.keys(image!), [
        "id",
        "filename",
        "original_filename",
        "width",
        "height",
        "status",
        "variants"
      ])
      assert.deepStrictEqual(image, {
        id,
        filename: "photo.jpg",
        original_filename: "photo.jpg",
        width: 1200,
        height: 800,
        status: "done",
        variants: [200, 500, 1000].map((width) => ({
          width,
          height: Math.floor((width * 800) / 1200),
          url: `/apps/shum-booking/static/images/${id}_${width}w_photo.jpg`
        }))
      })

      const served = yield* send(HttpClientRequest.get(`/apps/shum-booking/static/images/${id}_500w_photo.jpg`))
      assert.strictEqual(served.status, 200)
      const file = yield* send(HttpClientRequest.get(`/static/images/${id}_500w_photo.jpg`))
      assert.strictEqual(file.status, 200)
      assert.strictEqual(file.headers["content-type"], "image/jpeg")
      assert.strictEqual(file.headers["cache-control"], "public, max-age=2592000, immutable")
      const row = yield* rowOf(id)
      assert.deepStrictEqual(row, { status: "done", attempts: 1, error: null })
    })
  )

  it.effect("EXIF orientation is applied and metadata (GPS) stripped; the stored size is the displayed one", () =>
    Effect.gen(function* () {
      const admin = yield* signIn("admin")
      const hotel = yield* insertHotel()
      const bytes = yield* Effect.promise(() => sidewaysJpegWithGps(1500, 1000))
      const response = yield* uploadAs(admin.token, hotel.id, form(bytes, "sideways.jpeg"))
      assert.strictEqual(response.status, 200, JSON.stringify(response.json))
      const id = (response.json as { image_id: number }).image_id
      const [image] = (yield* listImages(hotel.id)).json as Array<{ width: number; height: number }>
      assert.deepStrictEqual([image!.width, image!.height], [1000, 1500])
      const variant = yield* sizeOf(join(dir, `${id}_200w_sideways.jpeg`))
      assert.deepStrictEqual([variant.width, variant.height], [200, 300])
      assert.isUndefined(variant.exif, "no EXIF (so no GPS position) in a variant")
      assert.isUndefined(variant.orientation)
    })
  )

  it.effect(
    "validation: 401, 403, 422 without a file, 400 E-60 for a non-image type, 404 hotel, 400 E-60 undecodable, 400 E-62",
    () =>
      Effect.gen(function* () {
        const admin = yield* signIn("admin")
        const user = yield* signIn("user")
        const hotel = yield* insertHotel()
        const image = yield* Effect.promise(() => jpeg(1200, 800))
        assert.strictEqual((yield* uploadAs(undefined, hotel.id, form(image, "a.jpg"))).status, 401)
        assert.strictEqual((yield* uploadAs(user.token, hotel.id, form(image, "a.jpg"))).status, 403)
        assert.strictEqual(
          (yield* uploadAs(admin.token, hotel.id, form(image, "a.jpg", "image/jpeg", "photo"))).status,
          422
        )

        const notImage = yield* uploadAs(admin.token, hotel.id, form(image, "a.txt", "text/plain"))
        assert.deepStrictEqual([notImage.status, detailOf(notImage)], [400, Messages.notAnImage])
        assert.strictEqual(notImage.headers["content-type"], "application/problem+json")

        const missing = yield* uploadAs(admin.token, 999_999, form(image, "a.jpg"))
        assert.deepStrictEqual([missing.status, detailOf(missing)], [404, "Отель с ID 999999 не найден"])

        const garbage = yield* uploadAs(
          admin.token,
          hotel.id,
          form(new TextEncoder().encode("not an image"), "a.png", "image/png")
        )
        assert.deepStrictEqual([garbage.status, detailOf(garbage)], [400, Messages.notAnImage])

        const narrow = yield* uploadAs(
          admin.token,
          hotel.id,
          form(yield* Effect.promise(() => jpeg(999, 2000)), "n.jpg")
        )
        assert.deepStrictEqual([narrow.status, detailOf(narrow)], [400, Messages.imageTooNarrow(999)])
        assert.strictEqual(((yield* listImages(hotel.id)).json as Array<unknown>).length, 0, "nothing was stored")
      })
  )

  it.effect("a multipart body without a boundary the parser accepts is a 422 problem, never a 500", () =>
    Effect.gen(function* () {
      const admin = yield* signIn("admin")
      const hotel = yield* insertHotel()
      const body = '--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nabc\r\n--b--\r\n'
      for (const type of [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        'multipart/form-data; boundary="a\tb"',
        "multipart/form-data; boundary=b; x"
      ]) {
        const response = yield* send(
          HttpClientRequest.post(`/images/upload/${hotel.id}`).pipe(
            HttpClientRequest.bearerToken(admin.token),
            HttpClientRequest.bodyText(body, type)
          )
        )
        assert.strictEqual(response.status, 422, type)
        assert.strictEqual(response.headers["content-type"], "application/problem+json")
        assert.deepStrictEqual((response.json as { detail: unknown }).detail, [
          { type: "missing", loc: ["body"], msg: "Field required", input: null }
        ])
      }
      // the same body with a boundary, however spelled, reaches the upload (not an image: 400 E-60)
      for (const type of ['multipart/form-data; BOUNDARY="b"', "multipart/form-data ; boundary=b"]) {
        const parsed = yield* send(
          HttpClientRequest.post(`/images/upload/${hotel.id}`).pipe(
            HttpClientRequest.bearerToken(admin.token),
            HttpClientRequest.bodyText(body, type)
          )
        )
        assert.deepStrictEqual(
          [parsed.status, (parsed.json as { detail: unknown }).detail],
          [400, Messages.notAnImage],
          type
        )
      }
    })
  )

  it.effect(
    "a multipart body that ends inside its part is a 422 once it has all arrived, never a request left hanging",
    () =>
      Effect.gen(function* () {
        const admin = yield* signIn("admin")
        const hotel = yield* insertHotel()
        const cut =
          '--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\nabcdef'
        const started = Date.now()
        const response = yield* send(
          HttpClientRequest.post(`/images/upload/${hotel.id}`).pipe(
            HttpClientRequest.bearerToken(admin.token),
            HttpClientRequest.bodyText(cut, "multipart/form-data; boundary=b")
          )
        )
        assert.strictEqual(response.status, 422)
        assert.deepStrictEqual((response.json as { detail: unknown }).detail, [
          { type: "missing", loc: ["body"], msg: "Field required", input: null }
        ])
        assert.isBelow(Date.now() - started, 20_000)
        assert.strictEqual(((yield* listImages(hotel.id)).json as Array<unknown>).length, 0)
      })
  )

  it.effect("a decompression bomb (100 KB, 30000×30000 px) is refused unread: 400 E-60, memory unchanged", () =>
    Effect.gen(function* () {
      const admin = yield* signIn("admin")
      const hotel = yield* insertHotel()
      const bomb = pngBomb(30_000)
      assert.isBelow(bomb.length, 200_000)
      const before = process.memoryUsage().rss
      const started = Date.now()
      const response = yield* uploadAs(admin.token, hotel.id, form(bomb, "bomb.png", "image/png"))
      assert.deepStrictEqual([response.status, detailOf(response)], [400, Messages.notAnImage])
      assert.isBelow(Date.now() - started, 10_000)
      // decoding it would take 900 MB (and more at 8 bits per pixel)
      assert.isBelow(process.memoryUsage().rss - before, 150 * 1024 * 1024)
      assert.strictEqual(((yield* listImages(hotel.id)).json as Array<unknown>).length, 0)
    })
  )

  it.effect("a `../../etc/passwd` file name is sanitised: the files stay in the store as `{id}_{w}w_passwd.jpg`", () =>
    Effect.gen(function* () {
      const admin = yield* signIn("admin")
      const hotel = yield* insertHotel()
      const response = yield* uploadAs(
        admin.token,
        hotel.id,
        form(yield* Effect.promise(() => jpeg(1000, 700)), "../../etc/passwd")
      )
      assert.strictEqual(response.status, 200, JSON.stringify(response.json))
      const id = (response.json as { image_id: number }).image_id
      const files = yield* filesOf(dir, id)
      assert.deepStrictEqual(files.variants, [
        `${id}_1000w_passwd.jpg`,
        `${id}_200w_passwd.jpg`,
        `${id}_500w_passwd.jpg`
      ])
      assert.isFalse(existsSync(join(dir, "..", "etc")) && existsSync(join(dir, "..", "etc", "passwd")))
      const [image] = (yield* listImages(hotel.id)).json as Array<{
        filename: string
        original_filename: string
        variants: Array<{ url: string }>
      }>
      // D14: the answer shows the name on disk, never the client's path; the row keeps that as data
      assert.deepStrictEqual([image!.filename, image!.original_filename], ["passwd.jpg", "passwd.jpg"])
      assert.notInclude(JSON.stringify((yield* listImages(hotel.id)).json), "..")
      const [row] = yield* Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql<{ filename: string; original_filename: string }>`
          SELECT filename, original_filename FROM images WHERE id = ${id}`
      )
      assert.deepStrictEqual([row!.filename, row!.original_filename], ["../../etc/passwd", "../../etc/passwd"])
      assert.strictEqual(image!.variants[0]!.url, `/apps/shum-booking/static/images/${id}_200w_passwd.jpg`)
      // an exactly 1000 px wide original still gets its 1000 px variant
      assert.deepStrictEqual((yield* sizeOf(join(dir, `${id}_1000w_passwd.jpg`))).width, 1000)
    })
  )

  it.effect("an oversized body is cut off at the limit: 413 E-61 before the client has sent it all", () =>
    Effect.gen(function* () {
      const admin = yield* signIn("admin")
      const hotel = yield* insertHotel()
      const server = yield* HttpServer.HttpServer
      const port = (server.address as { port: number }).port
      const total = 256 * 1024 * 1024
      const result = yield* Effect.promise(() => streamUpload(port, admin.token, hotel.id, total))
      assert.strictEqual(result.status, 413)
      assert.deepStrictEqual(JSON.parse(result.body).detail, Messages.fileTooLarge(1))
      assert.isBelow(result.sent, total / 2, "the answer came long before the body ended")
      // just over the limit through the regular client too
      const justOver = yield* uploadAs(admin.token, hotel.id, form(new Uint8Array(1024 * 1024 + 1), "big.jpg"))
      assert.deepStrictEqual([justOver.status, detailOf(justOver)], [413, Messages.fileTooLarge(1)])
      assert.strictEqual(((yield* listImages(hotel.id)).json as Array<unknown>).length, 0)
    })
  )

  it.effect("a row the original service wrote shows its file name without the client's directories (D14)", () =>
    Effect.gen(function* () {
      const hotel = yield* insertHotel()
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ id: number }>`
        INSERT INTO images (filename, original_filename, width, height)
        VALUES ('../../x/legacy.jpg', '../../x/legacy.jpg', 1200, 800) RETURNING id`
      yield* sql`INSERT INTO hotels_images (hotel_id, image_id) VALUES (${hotel.id}, ${row!.id})`
      const [image] = (yield* listImages(hotel.id)).json as Array<{ filename: string; original_filename: string }>
      assert.deepStrictEqual([image!.filename, image!.original_filename], ["legacy.jpg", "legacy.jpg"])
    })
  )

  it.effect(
    "a poison image (its header decodes, its pixels do not) fails after the attempts: 400 with the reason",
    () =>
      Effect.gen(function* () {
        const admin = yield* signIn("admin")
        const hotel = yield* insertHotel()
        const bytes = yield* Effect.promise(() => truncatedJpeg(1200, 800))
        const response = yield* uploadAs(admin.token, hotel.id, form(bytes, "poison.jpg"))
        assert.strictEqual(response.status, 400, JSON.stringify(response.json))
        const detail = String(detailOf(response))
        assert.match(detail, /^Ошибка при загрузке изображения: Ошибка при обработке изображения: .*JPEG/)
        const [image] = (yield* listImages(hotel.id)).json as Array<{
          id: number
          status: string
          variants: Array<unknown>
        }>
        assert.deepStrictEqual([image!.status, image!.variants], ["failed", []])
        const row = yield* rowOf(image!.id)
        assert.deepStrictEqual([row!.status, row!.attempts], ["failed", 3])
        assert.deepStrictEqual(yield* filesOf(dir, image!.id), { variants: [], originals: [], temporary: [] })
      })
  )

  it.effect("delete: 404 E-20 when missing; removes the row, the hotel link and every file", () =>
    Effect.gen(function* () {
      const admin = yield* signIn("admin")
      const user = yield* signIn("user")
      const hotel = yield* insertHotel()
      const response = yield* uploadAs(
        admin.token,
        hotel.id,
        form(yield* Effect.promise(() => jpeg(1100, 900)), "gone.jpg")
      )
      const id = (response.json as { image_id: number }).image_id
      assert.strictEqual((yield* filesOf(dir, id)).variants.length, 3)
      assert.strictEqual((yield* deleteImage(user.token, id)).status, 403)
      const deleted = yield* deleteImage(admin.token, id)
      assert.deepStrictEqual([deleted.status, deleted.json], [200, { status: "OK" }])
      assert.deepStrictEqual((yield* filesOf(dir, id)).variants, [])
      assert.deepStrictEqual((yield* listImages(hotel.id)).json, [])
      const links = yield* Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql`SELECT 1 FROM hotels_images WHERE image_id = ${id}`
      )
      assert.strictEqual(links.length, 0)
      const again = yield* deleteImage(admin.token, id)
      assert.deepStrictEqual([again.status, detailOf(again)], [404, Messages.imageNotFound])
      const file = yield* send(HttpClientRequest.get(`/static/images/${id}_200w_gone.jpg`))
      assert.deepStrictEqual([file.status, detailOf(file)], [404, "Not Found"])
    })
  )

  it.effect("listing: 404 for a missing hotel; static files: only plain names of the store", () =>
    Effect.gen(function* () {
      const missing = yield* listImages(999_998)
      assert.deepStrictEqual([missing.status, detailOf(missing)], [404, "Отель с ID 999998 не найден"])
      for (const path of [
        "/static/images/..%2F..%2Fetc%2Fpasswd",
        "/static/images/.originals",
        "/static/images/nope.jpg"
      ]) {
        const response = yield* send(HttpClientRequest.get(path))
        assert.strictEqual(response.status, 404, path)
        assert.strictEqual(response.headers["content-type"], "application/problem+json", path)
      }
      const traversal = yield* send(HttpClientRequest.get("/static/images/../../../../etc/hostname"))
      assert.strictEqual(traversal.status, 404)
    })
  )

  it.effect("/health/detailed reports the in-process worker", () =>
    Effect.gen(function* () {
      const health = yield* send(HttpClientRequest.get("/health/detailed"))
      assert.deepStrictEqual((health.json as { celery: unknown }).celery, {
        status: "ok",
        workers_count: 1,
        workers: [EMBEDDED_WORKER_NAME]
      })
    })
  )
})

// No worker, no wait: the upload answers 202 at once and the image stays pending.
const NoWait = { ...ENV, IMAGE_DIR: otherDir, IMAGE_UPLOAD_WAIT_SECONDS: "0", ROOT_PATH: "" }

layer(makeTestServer(NoWait), { excludeTestServices: true, timeout: "60 seconds" })(
  "images, nobody processing",
  (it) => {
    it.effect("202 PROCESSING; listed as pending without variants; /health/detailed: no_workers", () =>
      Effect.gen(function* () {
        const admin = yield* signIn("admin")
        const hotel = yield* insertHotel()
        const response = yield* uploadAs(
          admin.token,
          hotel.id,
          form(yield* Effect.promise(() => jpeg(1200, 800)), "later.png", "image/jpeg")
        )
        assert.strictEqual(response.status, 202, JSON.stringify(response.json))
        const id = (response.json as { image_id: number }).image_id
        assert.deepStrictEqual(response.json, { status: "PROCESSING", image_id: id })
        const [image] = (yield* listImages(hotel.id)).json as Array<{ status: string; variants: Array<unknown> }>
        assert.deepStrictEqual([image!.status, image!.variants], ["pending", []])
        const files = yield* filesOf(otherDir, id)
        assert.deepStrictEqual(files.originals, [`${id}_later.png`], "the original waits for the worker")
        const health = yield* send(HttpClientRequest.get("/health/detailed"))
        assert.strictEqual((health.json as { celery: { status: string } }).celery.status, "no_workers")
      })
    )
  }
)

/** A multipart upload streamed chunk by chunk until the server answers (or `total` bytes are sent). */
const streamUpload = (port: number, token: string, hotelId: number, total: number) => {
  const boundary = "shum-boundary-0123456789"
  return streamBody({
    port,
    path: `/images/upload/${hotelId}`,
    headers: { authorization: `Bearer ${token}`, "content-type": `multipart/form-data; boundary=${boundary}` },
    head: `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
    fill: 0xab,
    tail: `\r\n--${boundary}--\r\n`,
    total
  })
}

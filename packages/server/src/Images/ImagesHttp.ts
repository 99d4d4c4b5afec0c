/**
 * The `images` group (docs/api.md §8.8, D5), and two pieces of HTTP outside the contract:
 * - the multipart limits of the upload, applied while the body streams in: the file part stops at
 *   `MAX_IMAGE_FILE_SIZE_MB`, the whole body at that plus 1 MiB of envelope (as the edge proxy), and the
 *   error mapping answers 413 E-61 (`Http/ErrorMapping.ts`); a multipart body without a usable boundary
 *   in its `Content-Type` is a 422 (a body that cannot be read, as a missing one), never a 500;
 * - `GET /static/images/<file>`: the variants, served by nginx in deployment and by the server itself so
 *   the embedded default works alone. Plain names only (no directory, nothing hidden), cached for 30 days.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Multipart from "@effect/platform/Multipart"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { ShumApi } from "@shum/domain/Api"
import { Message } from "@shum/domain/Common"
import * as Errors from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { AppConfig } from "@shum/infra/Config"
import { isPublicName } from "@shum/worker/ImageFiles"
import { Context, Deferred, Duration, Effect, Exit, Layer, Option } from "effect"
import { join } from "node:path"
import { closedGroup } from "../Http/ClosedGroup.js"
import { problemResponse, validationResponse } from "../Http/ErrorMapping.js"
import { ImagesService } from "./ImagesService.js"

export const ImagesLive = closedGroup(ShumApi, "images", (handlers) =>
  Effect.gen(function* () {
    const images = yield* ImagesService
    return handlers
      .handle("upload", ({ path, payload }) =>
        Effect.serviceOption(UploadParsed).pipe(
          Effect.flatMap(
            Option.match({
              onNone: () => Effect.void,
              onSome: (parsed) => Effect.asVoid(Deferred.done(parsed, Exit.void))
            })
          ),
          Effect.zipRight(images.upload(path.hotel_id, payload.file))
        )
      )
      .handle("listByHotel", ({ path }) => images.listByHotel(path.hotel_id))
      .handle("delete", ({ path }) => images.remove(path.image_id).pipe(Effect.as(Message.ok)))
  })
)

const ENVELOPE = 1024 * 1024

/**
 * The `boundary` parameter of a `Content-Type` header, read as the multipart parser reads it (RFC 9110 §8.3:
 * `type "/" subtype *( ";" parameter )`, each parameter a token, `=`, then a token or a quoted string, with
 * the same character classes), or `undefined` when it has none the parser would accept. The parser reports
 * a missing boundary while it is being made, before anyone listens, so Node throws it and the request
 * would end in a 500: such a body is refused here before it is parsed.
 */
const TOKEN = "[!#$%&'*+.^\\w`|~-]+"
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}$`, "u")
const PARAMETER = new RegExp(
  `; *(${TOKEN})=("(?:[\\v\\u0020\\u0021\\u0023-\\u005b\\u005d-\\u007e\\u0080-\\u00ff]|\\\\[\\v\\u0020-\\u00ff])*"|${TOKEN}) *`,
  "uy"
)

const multipartBoundary = (header: string): string | undefined => {
  const semicolon = header.indexOf(";")
  if (semicolon === -1 || !MEDIA_TYPE.test(header.slice(0, semicolon).trim())) return undefined
  let boundary: string | undefined
  let at = semicolon
  while (at < header.length) {
    PARAMETER.lastIndex = at
    const match = PARAMETER.exec(header)
    if (match === null) return undefined
    if (match[1]!.toLowerCase() === "boundary") boundary = match[2]!
    at = PARAMETER.lastIndex
  }
  return boundary
}

/**
 * Completed by the upload handler when it starts, i.e. once the multipart body has been parsed. A body that
 * ends inside a part (its closing boundary never comes) makes the parser fail while nothing is listening
 * for that failure yet, and the request would wait for ever: once the whole body has arrived, parsing it
 * has `PARSE_GRACE` to finish, else the body is answered as unreadable.
 */
class UploadParsed extends Context.Tag("server/UploadParsed")<UploadParsed, Deferred.Deferred<void>>() {}

const PARSE_GRACE = Duration.seconds(10)

/** Succeeds once Node has received the request's whole body (or at once when it already has). */
const bodyReceived = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.async<void>((resume) => {
    const incoming = NodeHttpServerRequest.toIncomingMessage(request)
    if (incoming.complete || incoming.readableEnded) return resume(Effect.void)
    const done = () => resume(Effect.void)
    incoming.once("end", done)
    return Effect.sync(() => incoming.off("end", done))
  })

/** As a missing body is answered (`Http/ErrorMapping.ts`): nothing of it can be read. */
const unparsableForm = validationResponse([{ type: "missing", loc: ["body"], msg: "Field required", input: null }])

const UploadLimitsLive = HttpApiBuilder.middleware(
  Effect.map(
    AppConfig,
    ({ images }) =>
      (app) =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          (request.headers["content-type"] ?? "").toLowerCase().includes("multipart/form-data")
            ? multipartBoundary(request.headers["content-type"] ?? "") === undefined
              ? Effect.succeed(unparsableForm)
              : Effect.flatMap(Deferred.make<void>(), (parsed) =>
                  Effect.raceFirst(
                    Multipart.withLimits(app, {
                      maxFileSize: Option.some(images.maxFileSizeBytes),
                      maxTotalSize: Option.some(images.maxFileSizeBytes + ENVELOPE)
                    }).pipe(Effect.provideService(UploadParsed, parsed)),
                    bodyReceived(request).pipe(
                      Effect.zipRight(Effect.raceFirst(Deferred.await(parsed), Effect.sleep(PARSE_GRACE))),
                      Effect.zipRight(Deferred.isDone(parsed)),
                      Effect.flatMap((done) => (done ? Effect.never : Effect.succeed(unparsableForm))),
                      // requests are served uninterruptibly: the watchdog must stop when the upload answers
                      Effect.interruptible
                    )
                  )
                )
            : app
        )
  )
)

const CACHE_HEADERS = { "cache-control": "public, max-age=2592000, immutable" }

const notFound = problemResponse(new Errors.NotFound({ detail: Messages.notFoundRoute }))

const StaticImagesLive = HttpApiBuilder.Router.use((router) =>
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

/** What `HttpLive.ts` adds next to the API: the upload's limits and the image files. */
export const ImagesHttpLive = Layer.mergeAll(UploadLimitsLive, StaticImagesLive)

/**
 * docs/decisions.md D11: a request body is bounded before it is buffered. Every body the API reads whole —
 * JSON, and whatever else is not a multipart upload (those stream to disk under `MAX_IMAGE_FILE_SIZE_MB`,
 * `Images/ImagesHttp.ts`) — is read here, once, counting bytes as they arrive:
 * - a `Content-Length` above `MAX_JSON_BODY_KB` is a 413 at once, nothing read;
 * - a body that grows past it (chunked, or lying about its length) is a 413 as soon as it does: reading
 *   stops there, and the answer closes the connection, so the rest is never read;
 * - otherwise the bytes are kept and the request handed on as a `BufferedRequest`, whose `text`, `json`,
 *   … all answer from them (the platform's own reader would have buffered any size).
 * `json` also refuses a document nested deeper than `MAX_JSON_DEPTH` (`JsonBody.ts`).
 */
import type * as Headers from "@effect/platform/Headers"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpMethod from "@effect/platform/HttpMethod"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as UrlParams from "@effect/platform/UrlParams"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as NodeMultipart from "@effect/platform-node/NodeMultipart"
import * as Errors from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { Context, Effect, FiberRef, Inspectable, Stream } from "effect"
import type { IncomingMessage } from "node:http"
import { Readable } from "node:stream"
import { problemResponse } from "./ErrorMapping.js"
import { parseJson } from "./JsonBody.js"

/** As `HttpApiBuilder` decides it: these bodies are parsed as multipart (and limited as uploads). */
const isMultipart = (request: HttpServerRequest.HttpServerRequest) =>
  (request.headers["content-type"] ?? "").toLowerCase().includes("multipart/form-data")

/** A request whose body was read already: every way of reading it answers from the same bytes. */
class BufferedRequest extends Inspectable.Class implements HttpServerRequest.HttpServerRequest {
  readonly [HttpServerRequest.TypeId]: HttpServerRequest.TypeId = HttpServerRequest.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  private decoded: string | undefined

  constructor(
    readonly inner: HttpServerRequest.HttpServerRequest,
    readonly body: Buffer
  ) {
    super()
  }

  get source() {
    return this.inner.source
  }
  get url() {
    return this.inner.url
  }
  get originalUrl() {
    return this.inner.originalUrl
  }
  get method() {
    return this.inner.method
  }
  get cookies() {
    return this.inner.cookies
  }
  get headers() {
    return this.inner.headers
  }
  get remoteAddress() {
    return this.inner.remoteAddress
  }
  get upgrade() {
    return this.inner.upgrade
  }
  /**
   * The Node response the request belongs to. `@effect/platform-node` writes the answer through the request
   * in context (its `handleResponse` reads this property), which inside the pipeline is this one.
   */
  get resolvedResponse(): unknown {
    return (this.inner as unknown as { readonly resolvedResponse: unknown }).resolvedResponse
  }

  private get bodyText(): string {
    this.decoded ??= this.body.toString("utf8")
    return this.decoded
  }
  private decodeError(cause: unknown): HttpServerError.RequestError {
    return new HttpServerError.RequestError({ request: this, reason: "Decode", cause })
  }

  get text(): Effect.Effect<string, HttpServerError.RequestError> {
    return Effect.sync(() => this.bodyText)
  }
  /** As the platform's: an empty body is `null`; a too deeply nested one fails with `JsonTooDeep`. */
  get json(): Effect.Effect<unknown, HttpServerError.RequestError> {
    return Effect.try({
      try: () => (this.bodyText === "" ? null : parseJson(this.bodyText)),
      catch: (cause) => this.decodeError(cause)
    })
  }
  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpServerError.RequestError> {
    return Effect.try({
      try: () => UrlParams.fromInput(new URLSearchParams(this.bodyText)),
      catch: (cause) => this.decodeError(cause)
    })
  }
  get arrayBuffer() {
    return Effect.sync(() => Uint8Array.from(this.body).buffer)
  }
  get stream() {
    return Stream.succeed(new Uint8Array(this.body))
  }
  get multipart() {
    return NodeMultipart.persisted(Readable.from([this.body]), this.headers as Record<string, string>)
  }
  get multipartStream() {
    return NodeMultipart.stream(Readable.from([this.body]), this.headers as Record<string, string>)
  }

  modify(options: {
    readonly url?: string
    readonly headers?: Headers.Headers
    readonly remoteAddress?: string
  }): HttpServerRequest.HttpServerRequest {
    return new BufferedRequest(this.inner.modify(options), this.body)
  }

  toJSON(): unknown {
    return this.inner.toJSON()
  }
}

class TooLarge {
  readonly _tag = "TooLarge"
}

/**
 * The body of `source`, counting bytes as they arrive; past `limit` it stops reading (pausing the socket's
 * stream, not destroying it, so the 413 can still be written) and fails with `TooLarge`.
 */
const readAtMost = (source: IncomingMessage, limit: number) =>
  Effect.async<Buffer, TooLarge>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const stop = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        stop()
        source.pause()
        resume(Effect.fail(new TooLarge()))
      } else {
        chunks.push(chunk)
      }
    }
    const onEnd = () => {
      stop()
      resume(Effect.succeed(Buffer.concat(chunks, size)))
    }
    // the client went away before the end of its body: nobody is left to answer
    const onError = () => {
      stop()
      resume(Effect.interrupt)
    }
    if (source.readableEnded) return resume(Effect.succeed(Buffer.alloc(0)))
    source.on("data", onData)
    source.on("end", onEnd)
    source.on("error", onError)
    return Effect.sync(() => {
      stop()
      source.pause()
    })
  })

const declaredLength = (request: HttpServerRequest.HttpServerRequest): number | undefined => {
  const value = request.headers["content-length"]
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined
  return Number(value)
}

/** The 413 of a body above the limit; the connection closes after it (what was not read never will be). */
const tooLarge = (limitKb: number): HttpServerResponse.HttpServerResponse =>
  problemResponse(new Errors.PayloadTooLarge({ detail: Messages.bodyTooLarge(limitKb) }), {
    connection: "close"
  })

/**
 * What sets a fiber-local from inside `Effect.withFiberRuntime` without an effect of its own (the runtime fiber's
 * `setFiberRef`, which `FiberRef.set` calls; as `RequestPipeline.ts` does).
 */
interface SettableFiber {
  setFiberRef<A>(fiberRef: FiberRef.FiberRef<A>, value: A): void
}
const isSettable = (fiber: unknown): fiber is SettableFiber =>
  typeof (fiber as Partial<SettableFiber>).setFiberRef === "function"

/**
 * `app` with the `BufferedRequest` as the request in its context. Set for the rest of the request's fiber rather
 * than provided around `app` (`Effect.provideService`: a copy of the context, the fiber-local set, then restored
 * under an uninterruptible release — two fiber-local updates and a dozen of Effect's steps on every request with
 * a body; issue 18, bench/README.md "Issue 18 and 19, fourth pass"): the server runs each request in a fiber of
 * its own, whose context the platform provides around the whole request, so what is set here ends with it. After
 * `app` only the platform reads the request again (to see that the answer was written: the same object now).
 */
const withRequest = <E, R>(app: HttpApp.Default<E, R>, request: BufferedRequest): HttpApp.Default<E, R> =>
  Effect.withFiberRuntime((fiber) => {
    if (!isSettable(fiber)) return Effect.provideService(app, HttpServerRequest.HttpServerRequest, request)
    fiber.setFiberRef(
      FiberRef.currentContext,
      Context.add(fiber.currentContext, HttpServerRequest.HttpServerRequest, request)
    )
    return app
  })

/**
 * Runs `app` with the request's body read and bounded by `limitKb` KiB (a `BufferedRequest`, the request of the
 * rest of the request's fiber: `withRequest`), or answers 413 through `early` (an answer given before the app is
 * not finished by the platform's pre-response handlers: `early` adds what they would). Requests without a body
 * (`GET`, `HEAD`, `OPTIONS`) and multipart uploads pass as they are.
 */
export const withBoundedBody =
  (limitKb: number) =>
  <E, R>(
    request: HttpServerRequest.HttpServerRequest,
    app: HttpApp.Default<E, R>,
    early: (response: HttpServerResponse.HttpServerResponse) => Effect.Effect<HttpServerResponse.HttpServerResponse>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> => {
    if (!HttpMethod.hasBody(request.method) || isMultipart(request)) return app
    const limit = limitKb * 1024
    const length = declaredLength(request)
    if (length !== undefined && length > limit) return early(tooLarge(limitKb))
    return readAtMost(NodeHttpServerRequest.toIncomingMessage(request), limit).pipe(
      Effect.matchEffect({
        onFailure: () => early(tooLarge(limitKb)),
        onSuccess: (body) => withRequest(app, new BufferedRequest(request, body))
      })
    )
  }

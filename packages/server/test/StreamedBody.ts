/**
 * A request body streamed chunk by chunk until the server answers: how much was sent by then tells whether
 * the server read it all or stopped at its limit (the JSON body limit, the multipart upload limit).
 */
import type { IncomingHttpHeaders } from "node:http"
import { request as httpRequest } from "node:http"

export interface StreamedBody {
  readonly port: number
  readonly path: string
  readonly headers: Record<string, string>
  /** Sent first, then `total` bytes of `fill`, then `tail` (unless the server answered before). */
  readonly head: string
  readonly fill: number
  readonly tail: string
  readonly total: number
  /** Only the headers are sent (with a declared `content-length`, say), then nothing until the answer. */
  readonly headersOnly?: boolean
}

export interface StreamedAnswer {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: string
  /** Bytes of `fill` sent before the answer. */
  readonly sent: number
}

export const streamBody = (options: StreamedBody) =>
  new Promise<StreamedAnswer>((resolve, reject) => {
    const { headers, path, port, total } = options
    const request = httpRequest({ host: "127.0.0.1", port, method: "POST", path, headers })
    let sent = 0
    let answered = false
    request.on("response", (response) => {
      answered = true
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => (body += chunk))
      response.on("end", () => {
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, sent })
        request.destroy()
      })
    })
    request.on("error", (error) => {
      if (!answered) reject(error)
    })
    request.flushHeaders()
    if (options.headersOnly) return
    request.write(options.head)
    // past 4 MiB, at most 64 KiB per 2 ms: a loaded machine still has seconds to answer before the end
    const chunk = Buffer.alloc(64 * 1024, options.fill)
    const pump = (): void => {
      if (answered) return
      if (sent >= total) return void request.end(options.tail)
      sent += chunk.length
      const next = () => (sent > 4 * 1024 * 1024 ? setTimeout(pump, 2) : setImmediate(pump))
      if (request.write(chunk)) next()
      else request.once("drain", next)
    }
    pump()
  })

/**
 * A real HTTP receiver for the webhook tests, on 127.0.0.1 and a free port: it records every request
 * (headers and body) and answers as the test's `respond` says (a status, or `"hang"` for no answer).
 */
import { Effect } from "effect"
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

export interface Received {
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

export type Reply = number | "hang" | { readonly status: number; readonly headers: Record<string, string> }

export interface Receiver {
  readonly url: (path?: string) => string
  readonly port: number
  readonly received: Array<Received>
  /** Decides the answer to each request (default 200). */
  respond: (request: Received, index: number) => Reply
  /** Answers every request left hanging so far with `status`; how many it answered. */
  readonly release: (status?: number) => number
}

export const startReceiver = Effect.acquireRelease(
  Effect.async<Receiver>((resume) => {
    const hanging = new Set<ServerResponse>()
    const receiver: Receiver = {
      url: () => "",
      port: 0,
      received: [],
      respond: () => 200,
      release: (status = 200) => {
        const answered = hanging.size
        for (const response of hanging) if (!response.destroyed) response.writeHead(status).end("ok")
        hanging.clear()
        return answered
      }
    }
    const server = createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const received = { path: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks).toString() }
        receiver.received.push(received)
        const reply = receiver.respond(received, receiver.received.length - 1)
        if (reply === "hang") {
          hanging.add(response)
          return
        }
        const { headers, status } = typeof reply === "number" ? { status: reply, headers: {} } : reply
        response.writeHead(status, headers).end("ok")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      Object.assign(receiver, { port, url: (path = "/hook") => `http://127.0.0.1:${port}${path}` })
      Object.assign(receiver, { close: () => server.close() })
      ;(receiver as unknown as { stop: () => void }).stop = () => {
        for (const response of hanging) response.destroy()
        server.closeAllConnections()
        server.close()
      }
      resume(Effect.succeed(receiver))
    })
  }),
  (receiver) => Effect.sync(() => (receiver as unknown as { stop: () => void }).stop())
)

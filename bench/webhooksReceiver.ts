/**
 * The receivers of `bench/webhooks.ts`, in a process of their own (a receiver is another system: it must not
 * take the server's nor the dispatcher's CPU): one local HTTP server, a path per subscription, every request
 * answered 204 at once, with `node:http` and nothing else.
 *
 * Output: one JSON line on stdout when it listens (`{ port }`); when its stdin closes, another
 * (`ReceiverOutput`), and it exits.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

export interface ReceiverOutput {
  readonly received: number
  /** CPU seconds this process used (user + system). */
  readonly cpuSeconds: number
}

let received = 0
const server = createServer((request, response) => {
  request.resume()
  request.on("end", () => {
    received++
    response.writeHead(204).end()
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`)
})
process.stdin.resume()
process.stdin.on("end", () => {
  const cpu = process.cpuUsage()
  const output: ReceiverOutput = { received, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
  process.stdout.write(`${JSON.stringify(output)}\n`)
  server.closeAllConnections()
  server.close()
  process.exit(0)
})

/**
 * The load of `bench/webhooks.ts`, in a process of its own so it does not compete with the server for the
 * server's event loop (the figure is the server's): a closed loop of `concurrency` clients, each over its own
 * keep-alive connection, sending `POST /bookings` for random stays (1–3 nights within 300 days) over `rooms`
 * for `seconds`, with `node:http` and nothing else.
 *
 * Input: one JSON line on stdin (`ClientInput`). Output: one JSON line on stdout (`ClientOutput`).
 */
import { Agent, request } from "node:http"

export interface ClientInput {
  readonly base: string
  readonly tokens: ReadonlyArray<string>
  readonly rooms: ReadonlyArray<number>
  readonly concurrency: number
  readonly seconds: number
}

export interface ClientOutput {
  /** Bookings made (200), other answers. */
  readonly bookings: number
  readonly failed: number
  /** Each request's milliseconds, in the order they ended. */
  readonly latencies: ReadonlyArray<number>
  readonly seconds: number
  /** CPU seconds this client used during the load (user + system). */
  readonly cpuSeconds: number
}

const readStdin = async () => {
  const chunks: Array<Buffer> = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as ClientInput
}

/** The date `n` days from today (UTC), as the API takes it. */
const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10)
const between = (from: number, to: number) => from + Math.floor(Math.random() * (to - from))

const main = async () => {
  const input = await readStdin()
  const base = new URL(input.base)
  const agent = new Agent({ keepAlive: true, maxSockets: input.concurrency })

  const post = (path: string, token: string, body: string) =>
    new Promise<number>((resolve, reject) => {
      const headers = {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body)
      }
      const req = request({ host: base.hostname, port: base.port, path, method: "POST", agent, headers }, (res) => {
        res.resume()
        res.on("end", () => resolve(res.statusCode ?? 0))
        res.on("error", reject)
      })
      req.on("error", reject)
      req.end(body)
    })

  const latencies: Array<number> = []
  let bookings = 0
  let failed = 0
  const cpu0 = process.cpuUsage()
  const started = performance.now()
  const deadline = started + input.seconds * 1000
  const client = async () => {
    while (performance.now() < deadline) {
      const from = between(1, 300)
      const body = JSON.stringify({
        room_id: input.rooms[between(0, input.rooms.length)],
        date_from: day(from),
        date_to: day(from + between(1, 4))
      })
      const t0 = performance.now()
      const status = await post("/bookings", input.tokens[between(0, input.tokens.length)]!, body).catch(() => 0)
      latencies.push(performance.now() - t0)
      if (status === 200) bookings++
      else failed++
    }
  }
  await Promise.all(Array.from({ length: input.concurrency }, client))
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpu0)
  agent.destroy()
  const output: ClientOutput = { bookings, failed, latencies, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
  process.stdout.write(`${JSON.stringify(output)}\n`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})

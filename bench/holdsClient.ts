/**
 * The load of `bench/holds.ts`'s HTTP row, in a process of its own so it does not compete with the server for
 * the server's event loop (the figure is the server's): `flows` checkouts (docs/api.md §8.9: `POST /holds`,
 * then `POST /holds/{id}/confirm` with the same token), `concurrency` at once over as many keep-alive
 * connections, with `node:http` and nothing else (the bench runs it once to warm the server up, then to measure).
 *
 * Input: one JSON line on stdin (`ClientInput`). Output: one JSON line on stdout (`ClientOutput`).
 */
import { Agent, request } from "node:http"
import { readInput } from "./clientInput.js"

export interface ClientInput {
  readonly base: string
  readonly tokens: ReadonlyArray<string>
  readonly concurrency: number
  readonly stay: { readonly roomId: number; readonly from: string; readonly to: string }
  readonly flows: number
}

export type Outcome = "confirmed" | "hold_409" | "confirm_failed" | "other"

export interface ClientOutput {
  /** Per flow, in the order they ended: its outcome, its milliseconds, and when it ended (ms after the first began). */
  readonly flows: ReadonlyArray<readonly [Outcome, number, number]>
  readonly seconds: number
  /** CPU seconds this client used during the flows (user + system). */
  readonly cpuSeconds: number
}

const main = async () => {
  const input = await readInput<ClientInput>()
  const base = new URL(input.base)
  const agent = new Agent({ keepAlive: true, maxSockets: input.concurrency })

  const post = (path: string, token: string, body?: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const headers: Record<string, string | number> = { authorization: `Bearer ${token}` }
      if (body !== undefined) {
        headers["content-type"] = "application/json"
        headers["content-length"] = Buffer.byteLength(body)
      }
      const req = request({ host: base.hostname, port: base.port, path, method: "POST", agent, headers }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }))
        res.on("error", reject)
      })
      req.on("error", reject)
      req.end(body)
    })

  const flow = async (stay: ClientInput["stay"], i: number): Promise<Outcome> => {
    const token = input.tokens[i % input.tokens.length]!
    const body = JSON.stringify({ room_id: stay.roomId, date_from: stay.from, date_to: stay.to })
    const held = await post("/holds", token, body)
    if (held.status === 409) return "hold_409"
    const id = held.status === 201 ? (JSON.parse(held.text) as { id?: number }).id : undefined
    if (id === undefined) return "other"
    const confirmed = await post(`/holds/${id}/confirm`, token)
    return confirmed.status === 200 ? "confirmed" : "confirm_failed"
  }

  // `flows` flows, `concurrency` at once: each worker takes the next flow when its own ends
  const flows: Array<readonly [Outcome, number, number]> = []
  let next = 0
  const worker = async () => {
    while (next < input.flows) {
      const i = next++
      const t0 = performance.now()
      const outcome = await flow(input.stay, i).catch((): Outcome => "other")
      const t1 = performance.now()
      flows.push([outcome, t1 - t0, t1 - started])
    }
  }
  const cpu0 = process.cpuUsage()
  const started = performance.now()
  await Promise.all(Array.from({ length: Math.min(input.concurrency, input.flows) }, worker))
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpu0)
  agent.destroy()
  const output: ClientOutput = { flows, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
  process.stdout.write(`${JSON.stringify(output)}\n`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})

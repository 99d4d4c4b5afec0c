/**
 * The load of `bench/holdsCost.ts`, in a process of its own: the requests it is given, `concurrency` at once over
 * as many keep-alive connections, with `node:http` and nothing else. Input: one JSON line on stdin (`Job`);
 * output: one JSON line on stdout (`JobResult`).
 */
import { Agent, request } from "node:http"
import { readInput } from "./clientInput.js"

export interface Job {
  readonly base: string
  readonly concurrency: number
  /** Each request: method, path, token, body (JSON text). */
  readonly requests: ReadonlyArray<readonly [string, string, string, string | null]>
}

export interface JobResult {
  /** Per request, in order: status and body text. */
  readonly answers: ReadonlyArray<readonly [number, string]>
  readonly seconds: number
}

const main = async () => {
  const job = await readInput<Job>()
  const base = new URL(job.base)
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency })
  const send = ([method, path, token, body]: Job["requests"][number]) =>
    new Promise<readonly [number, string]>((resolve, reject) => {
      const headers: Record<string, string | number> = { authorization: `Bearer ${token}` }
      if (body !== null) {
        headers["content-type"] = "application/json"
        headers["content-length"] = Buffer.byteLength(body)
      }
      const req = request({ host: base.hostname, port: base.port, path, method, agent, headers }, (res) => {
        const parts: Array<Buffer> = []
        res.on("data", (part: Buffer) => parts.push(part))
        res.on("end", () => resolve([res.statusCode ?? 0, Buffer.concat(parts).toString("utf8")]))
        res.on("error", reject)
      })
      req.on("error", reject)
      req.end(body ?? undefined)
    })
  const answers: Array<readonly [number, string]> = new Array(job.requests.length)
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: Math.min(job.concurrency, job.requests.length) }, async () => {
      while (next < job.requests.length) {
        const i = next++
        answers[i] = await send(job.requests[i]!)
      }
    })
  )
  const result: JobResult = { answers, seconds: (performance.now() - started) / 1000 }
  agent.destroy()
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})

/**
 * `wrk` replaying the requests of `file` (`wrk/replay.lua`: one request a line) at `url`, as fast as they are
 * answered, with `threads` threads and `connections` connections for `seconds` (`timeout`: wrk's `--timeout`,
 * else its own 2 s); the script's `BENCH_RESULT` line, parsed (`countStatus`: with each status's count). The one
 * runner of `run.ts`, `ab.ts` and `catalogueCache.ts`.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const REPLAY = fileURLToPath(new URL("wrk/replay.lua", import.meta.url))

export interface ReplayOptions {
  readonly threads: number
  readonly connections: number
  readonly seconds: number
  readonly countStatus: boolean
  readonly timeout?: string
}

export const wrkReplay = <R>(url: string, file: string, options: ReplayOptions): Promise<R> =>
  new Promise((resolve, reject) => {
    const { threads, connections, seconds, countStatus, timeout } = options
    const args = [
      `-t${threads}`,
      `-c${connections}`,
      `-d${seconds}s`,
      ...(timeout === undefined ? [] : ["--timeout", timeout]),
      "-s",
      REPLAY,
      url,
      "--",
      file,
      String(threads)
    ]
    const child = spawn("wrk", args, { env: { ...process.env, WRK_STATUS: countStatus ? "1" : "0" } })
    let out = ""
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()))
    child.on("error", reject)
    // "close", not "exit": the output may still be arriving when the process has exited
    child.on("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("BENCH_RESULT "))
      if (code !== 0 || line === undefined) reject(new Error(`wrk failed (${code}):\n${out}`))
      else resolve(JSON.parse(line.slice("BENCH_RESULT ".length)) as R)
    })
  })

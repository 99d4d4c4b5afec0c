/**
 * `packages/worker/src/main.ts` as a child process (what `npm run worker` starts), for the tests that
 * kill it: its output is kept for the failure message.
 */
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url))
const ROOT = fileURLToPath(new URL("../../..", import.meta.url))

export interface WorkerProcess {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

export const spawnWorker = (env: Record<string, string>): WorkerProcess => {
  const child = spawn(process.execPath, ["--conditions=@shum/source", "--import", "tsx", MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env["PATH"] ?? "",
      HOME: process.env["HOME"] ?? "",
      APP_ENV: "test",
      HOST: "127.0.0.1",
      WORKER_PORT: "0",
      LOG_FORMAT_JSON: "true",
      LOG_LEVEL: "info",
      ...env
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  return { child, output: () => output, exited }
}

/** Stops a child left running by a failed test. */
export const killQuietly = (worker: WorkerProcess) => {
  if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill("SIGKILL")
}

/** `spawnWorker` for the life of the scope: SIGKILLed when it closes, if still running. */
export const spawnWorkerScoped = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => spawnWorker(env)),
    (worker) => Effect.sync(() => killQuietly(worker))
  )

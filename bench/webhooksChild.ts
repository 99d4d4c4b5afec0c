/** The child processes of the webhook benches (`webhooks.ts`, `webhooksDrain.ts`). */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { join } from "node:path"

/**
 * A child process running `file` (under `tsx`, the workspace's sources), given `input` on stdin (kept open
 * unless `input` is given) and `env`; `line()` is its next line on stdout, `finish()` closes its stdin and
 * waits for its last line and its exit; it is killed with the scope. `nodeArgs` go to node (`--cpu-prof`).
 */
export const child = (
  file: string,
  env: Record<string, string> = {},
  input?: unknown,
  nodeArgs: ReadonlyArray<string> = []
) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const process_ = spawn(
        process.execPath,
        [...nodeArgs, "--conditions=@shum/source", "--import", "tsx", join(import.meta.dirname, file)],
        {
          cwd: join(import.meta.dirname, ".."),
          stdio: ["pipe", "pipe", "inherit"],
          env: { ...process.env, ...env }
        }
      )
      const lines: Array<string> = []
      const waiting: Array<(line: string) => void> = []
      let buffered = ""
      process_.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        buffered += chunk
        for (let at = buffered.indexOf("\n"); at >= 0; at = buffered.indexOf("\n")) {
          const line = buffered.slice(0, at)
          buffered = buffered.slice(at + 1)
          const next = waiting.shift()
          if (next === undefined) lines.push(line)
          else next(line)
        }
      })
      const exited = new Promise<number | null>((resolve) => process_.on("exit", resolve))
      if (input !== undefined) process_.stdin.end(JSON.stringify(input))
      const line = () =>
        Effect.async<string, Error>((resume) => {
          const ready = lines.shift()
          if (ready !== undefined) return resume(Effect.succeed(ready))
          waiting.push((l) => resume(Effect.succeed(l)))
          void exited.then((code) => resume(Effect.fail(new Error(`${file} exited with ${code}`))))
        })
      const finish = <A>() =>
        Effect.gen(function* () {
          process_.stdin.end()
          const last = yield* line()
          yield* Effect.promise(() => exited)
          return JSON.parse(last) as A
        })
      return { line, finish, kill: () => process_.kill() }
    }),
    (c) => Effect.sync(() => c.kill())
  )

/**
 * Prints one plain closing line, `Tests: N passed, N failed`, after the default reporter's output,
 * so tools that read a run's last lines see the counts in a common shape.
 */
import type { Reporter } from "vitest/reporters"

type Task = { type: string; mode?: string; result?: { state?: string }; tasks?: ReadonlyArray<Task> }

const count = (tasks: ReadonlyArray<Task>, totals: { passed: number; failed: number; skipped: number }) => {
  for (const task of tasks) {
    if (task.tasks) count(task.tasks, totals)
    if (task.type !== "test") continue
    const state = task.result?.state
    if (state === "pass") totals.passed++
    else if (state === "fail") totals.failed++
    else totals.skipped++
  }
  return totals
}

export default class SummaryReporter implements Reporter {
  onFinished(files: ReadonlyArray<Task> = [], errors: ReadonlyArray<unknown> = []) {
    const totals = count(files, { passed: 0, failed: 0, skipped: 0 })
    const failed = totals.failed + errors.length
    const skipped = totals.skipped > 0 ? `, ${totals.skipped} skipped` : ""
    process.stdout.write(`\nTests: ${totals.passed} passed, ${failed} failed${skipped}\n`)
  }
}

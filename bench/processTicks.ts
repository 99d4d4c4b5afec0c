/** utime + stime of a process, in clock ticks (1/100 s), from `/proc` (Linux); throws when it is gone. */
import { readFileSync } from "node:fs"

export const processTicks = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  // after the command's name (which may hold spaces and parentheses): state is field 3, utime 14, stime 15
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return Number(fields[11]) + Number(fields[12])
}

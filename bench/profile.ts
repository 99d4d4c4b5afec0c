/**
 * The top of a V8 CPU profile (`node --cpu-prof`, or `BENCH_CPU_PROF=1 npm run bench`): self time per
 * function and per package, so the hot spots show without a flame-graph viewer.
 *
 *   npx tsx bench/profile.ts bench/results/profiles/CPU.….cpuprofile [top]
 */
import { readFileSync } from "node:fs"

interface Node {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
  readonly children?: ReadonlyArray<number>
}

interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const [file, topArg] = process.argv.slice(2)
if (file === undefined) {
  console.error("usage: tsx bench/profile.ts <file.cpuprofile> [top]")
  process.exit(2)
}
const top = Number(topArg ?? 40)
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile

const selfUs = new Map<number, number>()
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
const total = [...selfUs.values()].reduce((a, b) => a + b, 0)

const packageOf = (url: string) => {
  if (url === "") return "(native/V8)"
  const nm = url.lastIndexOf("node_modules/")
  if (nm !== -1) {
    const rest = url.slice(nm + "node_modules/".length).split("/")
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  if (url.startsWith("node:")) return "node:internal"
  const pkg = /packages\/([^/]+)\//.exec(url)
  return pkg ? `@shum/${pkg[1]}` : url
}

const byFunction = new Map<string, number>()
const byPackage = new Map<string, number>()
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0
  if (us === 0) continue
  const { functionName, lineNumber, url } = node.callFrame
  const short = url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/packages\//, "")
  const key = `${functionName || "(anonymous)"}  ${short}:${lineNumber + 1}`
  byFunction.set(key, (byFunction.get(key) ?? 0) + us)
  const pkg = packageOf(url)
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us)
}

const print = (title: string, map: Map<string, number>, n: number) => {
  console.log(`\n${title}`)
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`)
  }
}

// inclusive time: each sample counts once for every distinct function on its stack
const parent = new Map<number, number>()
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
const keyOf = (node: Node) => {
  const { functionName, lineNumber, url } = node.callFrame
  const short = url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/packages\//, "")
  return `${functionName || "(anonymous)"}  ${short}:${lineNumber + 1}`
}
const inclusive = new Map<string, number>()
for (const [id, us] of selfUs) {
  const seen = new Set<string>()
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const key = keyOf(nodes.get(at)!)
    if (seen.has(key)) continue
    seen.add(key)
    inclusive.set(key, (inclusive.get(key) ?? 0) + us)
  }
}
const ours = new Map([...inclusive].filter(([key]) => / {2}(server|infra|domain|worker)\/(dist|src)\//.test(key)))

console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled`)
print("self time by package", byPackage, 20)
print("self time by function", byFunction, top)
print("inclusive time, the project's own functions", new Map([...ours].filter(([k]) => !k.startsWith("(root)"))), top)
if (process.env["PROFILE_ALL"] === "1") print("inclusive time, every function", inclusive, top)

#!/usr/bin/env node
/**
 * Rewrites citations of the original service's specification files (API, DATA, OPS and DECISIONS, each a
 * `.md` in a spec folder outside the repository) into citations of this repository's own documents:
 *
 *   API → docs/api.md, DATA → docs/data.md, OPS → docs/operations.md, DECISIONS → docs/decisions.md,
 *   and a link or path to one of them in the spec folder → that document (in Markdown, relative to the file).
 *
 * The section numbers, endpoint ids, rule and decision numbers stay: docs/ keeps the original's numbering.
 * Idempotent, so it can be re-run whenever someone adds a citation in the old form.
 *
 *   node scripts/docs-refs.mjs            lists what it would change; exit 1 when something would change
 *   node scripts/docs-refs.mjs --fix      rewrites the files in place
 *   node scripts/docs-refs.mjs --stdin=<path>   converts standard input as if it were the file <path>, to stdout
 *
 * packages/domain/test/DocsReferences.test.ts (in `npm test`) then checks that every citation resolves.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join, posix, relative, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..")

/** The original's file names and the documents that replace them. */
const TARGETS = { API: "api", DATA: "data", OPS: "operations", DECISIONS: "decisions" }

/** Directories never looked into (at any depth), and paths (from the root) skipped. */
const SKIP_DIRS = new Set([".git", "node_modules", "dist", ".tsbuild", ".data", "coverage", "test-results", "logs"])
const SKIP_PREFIXES = ["static/"]
/** Its controls hold the old citations on purpose. */
const SKIP_PATHS = new Set(["packages/domain/test/DocsReferences.test.ts"])
const SKIP_FILES = new Set(["package-lock.json", ".env", ".local.env", ".test.env", ".prod.env"])
/** Binaries, and the logs and profiles a bench run leaves (a 150 MB server.log made the scan hang). */
const BINARY = /\.(png|jpe?g|gif|webp|avif|tiff?|ico|bmp|woff2?|ttf|gz|zip|tsbuildinfo|log|cpuprofile|heapprofile)$/i

/** Every text file of the repository, as paths relative to the root with `/` separators. */
export const repositoryFiles = (root = ROOT) => {
  const out = []
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (SKIP_DIRS.has(entry.name)) continue
        walk(join(dir, entry.name))
      } else if (entry.isFile()) {
        const path = relative(root, join(dir, entry.name)).split(sep).join("/")
        if (SKIP_FILES.has(entry.name) || BINARY.test(entry.name)) continue
        if (SKIP_PATHS.has(path) || SKIP_PREFIXES.some((prefix) => path.startsWith(prefix))) continue
        out.push(path)
      }
    }
  }
  walk(root)
  return out.sort()
}

const docPath = (name, file) => {
  const target = `docs/${TARGETS[name]}.md`
  // Markdown links are relative to the linking file; citations in prose and comments name docs/ from the root.
  return file.endsWith(".md") ? posix.relative(posix.dirname(file), target) || target : target
}

/** The text with every old citation rewritten; `file` (from the root) decides relative link paths. */
export const convert = (text, file) =>
  text
    // links and paths into the spec folder, relative or absolute
    .replace(/(?:\.\.\/)*(?:\/?[\w.-]+\/)*shared\/spec\/(API|DATA|OPS|DECISIONS)\.md/g, (_, name) =>
      docPath(name, file)
    )
    // the bare names, wherever they are not already part of a path or a longer name
    .replace(/(?<![\w./-])(API|DATA|OPS|DECISIONS)\.md\b/g, (_, name) => `docs/${TARGETS[name]}.md`)

/** Mentions of the spec folder that `convert` cannot turn into a document (no file named). */
const leftovers = (text) => [...text.matchAll(/shared\/spec(?!\/(?:API|DATA|OPS|DECISIONS)\.md)/g)].length

const main = () => {
  const args = process.argv.slice(2)
  const stdin = args.find((arg) => arg.startsWith("--stdin="))
  if (stdin !== undefined) {
    process.stdout.write(convert(readFileSync(0, "utf8"), stdin.slice("--stdin=".length)))
    return 0
  }
  const fix = args.includes("--fix")
  let changedFiles = 0
  let changedLines = 0
  let unresolved = 0
  for (const file of repositoryFiles()) {
    const path = join(ROOT, file)
    const buffer = readFileSync(path)
    if (buffer.includes(0)) continue
    const before = buffer.toString("utf8")
    const after = convert(before, file)
    const left = leftovers(after)
    if (left > 0) {
      unresolved += left
      console.log(`${file}: mentions the spec folder without a document; edit by hand`)
    }
    if (after === before) continue
    changedFiles += 1
    const old = before.split("\n")
    const now = after.split("\n")
    now.forEach((line, i) => {
      if (line !== old[i]) {
        changedLines += 1
        if (!fix) console.log(`${file}:${i + 1}: ${line.trim()}`)
      }
    })
    if (fix) writeFileSync(path, after)
  }
  console.log(
    `${fix ? "rewrote" : "would rewrite"} ${changedLines} line(s) in ${changedFiles} file(s)` +
      (unresolved > 0 ? `; ${unresolved} mention(s) to edit by hand` : "")
  )
  return (!fix && changedFiles > 0) || unresolved > 0 ? 1 : 0
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main()
}

/**
 * Every citation in the repository resolves to this repository's documents (docs/README.md): each
 * `docs/api.md §8.7`, `docs/api.md B3`, `docs/data.md BR-4`, `docs/errors.md E-42`, `docs/operations.md §4.2`
 * or `docs/decisions.md D11` names a heading or an entry that exists in that file; a bare `D11`, `BR-4` or
 * `E-42` one that exists in its document; no file cites the original's specification files or the folder
 * outside the repository they lived in; every Markdown link into or out of docs/ reaches an existing file
 * and heading; and docs/errors.md quotes every error text exactly as `Messages.ts` produces it.
 * Controls show that a fabricated bad citation, link or text is caught, and that `scripts/docs-refs.mjs`
 * turns the old citations into ones that resolve.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join, posix, relative, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"
import { Messages } from "../src/Messages.js"

const ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)))
const SCRIPT = join(ROOT, "scripts", "docs-refs.mjs")
/** This file: its controls hold bad citations on purpose, so it is not scanned (the script skips it too). */
const SELF = "packages/domain/test/DocsReferences.test.ts"
/** The original's file names and folder, spelled so that no tool mistakes this file for a citation. */
const old = (name: "API" | "DATA" | "OPS" | "DECISIONS") => `${name}.md`
const SPEC = ["shared", "spec"].join("/")

// --- the files ----------------------------------------------------------------------------------------

/** As scripts/docs-refs.mjs walks them, minus the generated client (its text comes from packages/domain). */
const SKIP_DIRS = new Set([".git", "node_modules", "dist", ".tsbuild", ".data", "coverage", "test-results", "logs"])
const SKIP_PREFIXES = ["static/", "packages/client/src/generated/"]
const SKIP_FILES = new Set(["package-lock.json", ".env", ".local.env", ".test.env", ".prod.env"])
/** Binaries, and the logs and profiles a bench run leaves (a 150 MB server.log made the scan hang). */
const BINARY = /\.(png|jpe?g|gif|webp|avif|tiff?|ico|bmp|woff2?|ttf|gz|zip|tsbuildinfo|log|cpuprofile|heapprofile)$/i

const repositoryFiles = (): ReadonlyArray<string> => {
  const out: Array<string> = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name)) walk(join(dir, entry.name))
      } else if (entry.isFile() && !SKIP_FILES.has(entry.name) && !BINARY.test(entry.name)) {
        const path = relative(ROOT, join(dir, entry.name)).split(sep).join("/")
        if (path !== SELF && !SKIP_PREFIXES.some((prefix) => path.startsWith(prefix))) out.push(path)
      }
    }
  }
  walk(ROOT)
  return out.sort()
}

const readText = (file: string): string | undefined => {
  const buffer = readFileSync(join(ROOT, file))
  return buffer.includes(0) ? undefined : buffer.toString("utf8")
}

// --- the documents' anchors ---------------------------------------------------------------------------

const DOCS = ["api", "data", "errors", "operations", "decisions"] as const
type Doc = (typeof DOCS)[number]

interface DocIndex {
  /** `1`, `1.4`, … from headings `## §1 …`, `### §1.4 …` */
  readonly sections: ReadonlySet<string>
  /** `D1` … from headings `## D1. …`; `BR-1` … from `### BR-1 …`; `E-01` … and `H1` … from table rows */
  readonly entries: ReadonlySet<string>
}

/** Lines outside fenced code blocks. */
const proseLines = (text: string): ReadonlyArray<string> => {
  let fenced = false
  return text.split("\n").filter((line) => {
    if (line.startsWith("```")) {
      fenced = !fenced
      return false
    }
    return !fenced
  })
}

const indexOf = (text: string): DocIndex => {
  const sections = new Set<string>()
  const entries = new Set<string>()
  for (const line of proseLines(text)) {
    const section = /^#{1,6}\s+§(\d+(?:\.\d+)*)\s/.exec(line)
    if (section) sections.add(section[1]!)
    const heading = /^#{1,6}\s+(D\d+)\.\s|^#{1,6}\s+(BR-\d+)\s/.exec(line)
    if (heading) entries.add((heading[1] ?? heading[2])!)
    const row = /^\|\s*(E-\d{2}|[UCYFHRBI]\d+)\s*\|/.exec(line)
    if (row) entries.add(row[1]!)
  }
  return { sections, entries }
}

type Index = Readonly<Record<Doc, DocIndex>>

const loadIndex = (): Index =>
  Object.fromEntries(
    DOCS.map((doc) => [doc, indexOf(readFileSync(join(ROOT, "docs", `${doc}.md`), "utf8"))])
  ) as unknown as Index

// --- the check ----------------------------------------------------------------------------------------

interface Problem {
  readonly file: string
  readonly line: number
  readonly message: string
}

/** The document a bare `D…`, `BR-…` or `E-…` means. */
const defaultDoc = (ref: string): Doc => (ref.startsWith("D") ? "decisions" : ref.startsWith("BR-") ? "data" : "errors")

const SECTION = String.raw`§\s?\d+(?:\.\d+)*(?:\s?[–-]\s?§?\d+(?:\.\d+)*)?`
const RULE = String.raw`BR-\d+(?:\s?(?:\.\.|–)\s?(?:BR-)?\d+)?`
const ENTRY = String.raw`D\d+\b|E-\d{2}\b|[UCYFHRBI]\d+\b`
/** One more reference of a list after a document's name: `§8.8`, `, §9`, ` and D3`, `/D3`. */
const LIST_ITEM = new RegExp(String.raw`^(?:\s*,\s*|\s+and\s+|\s+or\s+|\s*\/\s*|\s+)(${SECTION}|${RULE}|${ENTRY})`)
const MENTION = /(?<![\w.-])(?:(?:\.\.\/)*docs\/)?(api|data|errors|operations|decisions)\.md(?:#[\w-]+)?/g
/** The original's specification files, and the folder outside the repository they were in. */
const OLD_NAME = /(?<![\w./-])(?:API|DATA|OPS|DECISIONS)\.md\b/g
const OLD_FOLDER = /(?:\.\.\/)*shared\/spec\b|\.\.\/shared\//g

const lineAt = (text: string, offset: number) => text.slice(0, offset).split("\n").length

/** Expands `§1.4–1.6` to its ends, `BR-4..BR-8` to every rule between. */
const expand = (ref: string): ReadonlyArray<string> => {
  const section = /^§\s?(\d+(?:\.\d+)*)(?:\s?[–-]\s?§?(\d+(?:\.\d+)*))?$/.exec(ref)
  if (section) return section[2] === undefined ? [`§${section[1]}`] : [`§${section[1]}`, `§${section[2]}`]
  const rules = /^BR-(\d+)\s?(?:\.\.|–)\s?(?:BR-)?(\d+)$/.exec(ref)
  if (rules) {
    const [from, to] = [Number(rules[1]), Number(rules[2])]
    return from <= to ? Array.from({ length: to - from + 1 }, (_, i) => `BR-${from + i}`) : [`BR-${from}`, `BR-${to}`]
  }
  return [ref]
}

const resolves = (index: Index, doc: Doc, ref: string): boolean =>
  ref.startsWith("§") ? index[doc].sections.has(ref.slice(1)) : index[doc].entries.has(ref)

export const checkText = (file: string, text: string, index: Index): ReadonlyArray<Problem> => {
  const problems: Array<Problem> = []
  const report = (offset: number, message: string) => problems.push({ file, line: lineAt(text, offset), message })

  for (const match of text.matchAll(OLD_NAME))
    report(match.index, `cites the original's ${match[0]}: cite docs/ instead (node scripts/docs-refs.mjs --fix)`)
  for (const match of text.matchAll(OLD_FOLDER))
    report(match.index, `points outside the repository (${match[0]}): cite docs/ instead`)

  // lists after a document's name: `docs/api.md §8.8, §9`, `docs/data.md BR-4..BR-8`
  const claimed: Array<readonly [number, number]> = []
  for (const match of text.matchAll(MENTION)) {
    const doc = match[1] as Doc
    let at = match.index + match[0].length
    let first = true
    for (;;) {
      const item = LIST_ITEM.exec(text.slice(at))
      if (!item) break
      const ref = item[1]!
      const start = at + item[0].length - ref.length
      claimed.push([start, start + ref.length])
      // the first item belongs to the document named; later decisions, rules and errors to their own
      const owner = first || ref.startsWith("§") || /^[UCYFHRBI]\d/.test(ref) ? doc : defaultDoc(ref)
      for (const one of expand(ref)) {
        if (!resolves(index, owner, one)) report(start, `docs/${owner}.md has no ${one}`)
      }
      first = false
      at += item[0].length
    }
  }
  const isClaimed = (offset: number) => claimed.some(([from, to]) => offset >= from && offset < to)

  // bare decisions, rules and errors mean their own document; a bare § only means the document it is in
  const inDocs = /^docs\/(\w+)\.md$/.exec(file)?.[1] as Doc | undefined
  for (const match of text.matchAll(/(?<![\w-])(D\d+|BR-\d+|E-\d{2,})(?![\w-])/g)) {
    if (isClaimed(match.index)) continue
    const ref = match[1]!
    const doc = defaultDoc(ref)
    if (!resolves(index, doc, ref)) report(match.index, `${ref}: docs/${doc}.md has no ${ref}`)
  }
  for (const match of text.matchAll(/§\s?\d+(?:\.\d+)*/g)) {
    if (isClaimed(match.index)) continue
    if (/RFC\s?\d+\s*$/.test(text.slice(Math.max(0, match.index - 12), match.index))) continue
    const ref = match[0].replace(/\s/g, "")
    if (inDocs === undefined || !(DOCS as ReadonlyArray<string>).includes(inDocs)) {
      report(match.index, `${ref} without a document: cite it as docs/<document>.md ${ref}`)
    } else if (!resolves(index, inDocs as Doc, ref)) {
      report(match.index, `docs/${inDocs}.md has no ${ref}`)
    }
  }
  return problems
}

// --- links ----------------------------------------------------------------------------------------------

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
const anchorsOf = (text: string): ReadonlySet<string> => {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  for (const line of proseLines(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (!heading) continue
    const base = heading[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-")
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

/** Relative Markdown links whose source or target is in docs/ must reach a file and, for `.md`, a heading. */
export const checkLinks = (file: string, text: string, read: (path: string) => string | undefined) => {
  const problems: Array<Problem> = []
  for (const line of proseLines(text)) {
    for (const match of line.matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = match[1]!
      if (/^[a-z][\w+.-]*:/i.test(link) || link.startsWith("/")) continue
      const [path = "", anchor] = link.split("#")
      const target = path === "" ? file : posix.normalize(posix.join(posix.dirname(file), path))
      if (!file.startsWith("docs/") && !target.startsWith("docs/")) continue
      const where = { file, line: text.split("\n").indexOf(line) + 1 }
      const content = read(target.replace(/\/$/, ""))
      if (content === undefined) {
        problems.push({ ...where, message: `links to ${link}: no such file` })
      } else if (anchor !== undefined && target.endsWith(".md") && !anchorsOf(content).has(anchor)) {
        problems.push({ ...where, message: `links to ${link}: ${target} has no heading #${anchor}` })
      }
    }
  }
  return problems
}

const readRepo = (path: string): string | undefined => {
  const full = join(ROOT, path)
  if (!existsSync(full)) return undefined
  return statSync(full).isDirectory() ? "" : readFileSync(full, "utf8")
}

const show = (problems: ReadonlyArray<Problem>) => problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join("\n")

// --- the tests ------------------------------------------------------------------------------------------

describe("citations of docs/", () => {
  const index = loadIndex()

  it("indexes every document's headings and entries", () => {
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]) assert.isTrue(index.api.sections.has(String(n)))
    for (const n of Array.from({ length: 15 }, (_, i) => i + 1)) assert.isTrue(index.decisions.entries.has(`D${n}`))
    for (const n of Array.from({ length: 12 }, (_, i) => i + 1)) assert.isTrue(index.data.entries.has(`BR-${n}`))
    for (const id of ["U1", "C6", "Y5", "F4", "H7", "R7", "B5", "I3"]) assert.isTrue(index.api.entries.has(id), id)
    assert.isTrue(index.errors.entries.has("E-42"))
    assert.isTrue(index.operations.sections.has("4.2"))
  })

  it("every citation in the repository resolves, and none points at the original's documents", () => {
    const files = repositoryFiles()
    assert.isAbove(files.length, 100)
    assert.include(files, "packages/domain/src/Messages.ts")
    assert.include(files, "deploy/k3s/base/kustomization.yaml")
    const problems = files.flatMap((file) => {
      const text = readText(file)
      return text === undefined ? [] : checkText(file, text, index)
    })
    assert.strictEqual(show(problems), "")
  })

  it("every Markdown link into or out of docs/ reaches a file and a heading", () => {
    const problems = repositoryFiles()
      .filter((file) => file.endsWith(".md"))
      .flatMap((file) => checkLinks(file, readText(file) ?? "", readRepo))
    assert.strictEqual(show(problems), "")
  })

  it("control: fabricated bad citations are caught, good ones pass", () => {
    const good =
      "docs/decisions.md D11, docs/api.md §8.7, B3; docs/data.md BR-4..BR-8, §1.4–1.6; docs/errors.md E-42 " +
      "and D2/D13, BR-11, E-09; RFC 9457 §3"
    assert.strictEqual(show(checkText("packages/x/src/Good.ts", good, index)), "")
    const bad = [
      "docs/decisions.md D" + "99",
      "docs/api.md §" + "14.2",
      "docs/data.md BR-" + "98..BR-" + "99",
      "docs/api.md H" + "9",
      "docs/errors.md E-" + "55",
      "see D" + "98",
      "see §" + "3",
      `${old("API")} §3`,
      `../${SPEC}`
    ].join("\n")
    const messages = checkText("packages/x/src/Bad.ts", bad, index).map((p) => `${p.line}: ${p.message}`)
    const expected = [
      "1: docs/decisions.md has no D99",
      "2: docs/api.md has no §14.2",
      "3: docs/data.md has no BR-98",
      "3: docs/data.md has no BR-99",
      "4: docs/api.md has no H9",
      "5: docs/errors.md has no E-55",
      "6: D98: docs/decisions.md has no D98",
      "7: §3 without a document: cite it as docs/<document>.md §3",
      "8: §3 without a document: cite it as docs/<document>.md §3",
      `8: cites the original's ${old("API")}: cite docs/ instead (node scripts/docs-refs.mjs --fix)`,
      `9: points outside the repository (../${SPEC}): cite docs/ instead`
    ]
    assert.deepStrictEqual([...messages].sort(), expected.sort())
  })

  it("control: a link to a missing heading or file is caught", () => {
    const docs = (path: string) => (path === "docs/api.md" ? "## §1 General conventions\n" : undefined)
    const text = "[a](api.md#1-general-conventions) [b](api.md#2-nothing) [c](nowhere.md)"
    assert.deepStrictEqual(
      checkLinks("docs/x.md", text, docs).map((p) => p.message),
      ["links to api.md#2-nothing: docs/api.md has no heading #2-nothing", "links to nowhere.md: no such file"]
    )
  })

  it("scripts/docs-refs.mjs turns the original's citations into ones that resolve, and is idempotent", () => {
    const convert = (text: string, as: string) => {
      const result = spawnSync(process.execPath, [SCRIPT, `--stdin=${as}`], { input: text, encoding: "utf8" })
      assert.strictEqual(result.status, 0, result.stderr)
      return result.stdout
    }
    const before = [
      `/** Bookings (${old("API")} §8.7, ${old("DATA")} BR-4..BR-8) with ${old("DECISIONS")} D1's rights. */`,
      `// ${old("OPS")} §4.2; ${old("API")} H2, R2; the ${old("DATA")} schema`,
      `[spec](../${SPEC}/${old("API")}) and [ops](/work/${SPEC}/${old("OPS")})`
    ].join("\n")
    const code = convert(before, "packages/server/src/Bookings/BookingsService.ts")
    assert.strictEqual(
      code,
      [
        "/** Bookings (docs/api.md §8.7, docs/data.md BR-4..BR-8) with docs/decisions.md D1's rights. */",
        "// docs/operations.md §4.2; docs/api.md H2, R2; the docs/data.md schema",
        "[spec](docs/api.md) and [ops](docs/operations.md)"
      ].join("\n")
    )
    assert.strictEqual(show(checkText("packages/server/src/Bookings/BookingsService.ts", code, index)), "")
    assert.strictEqual(convert(code, "packages/server/src/Bookings/BookingsService.ts"), code)
    // Markdown links are relative to the linking file
    assert.strictEqual(convert(`[spec](../${SPEC}/${old("DATA")})`, "deploy/README.md"), "[spec](../docs/data.md)")
  })
})

describe("docs/errors.md", () => {
  const text = readFileSync(join(ROOT, "docs", "errors.md"), "utf8")
  const rows = new Map(
    proseLines(text).flatMap((line) => {
      const code = /^\|\s*(E-\d{2})\s*\|/.exec(line)?.[1]
      return code === undefined ? [] : [[code, line] as const]
    })
  )
  const reason = "Input buffer contains unsupported image format"
  const TEXTS: Record<string, ReadonlyArray<string>> = {
    "E-01": [Messages.tokenMissing],
    "E-02": [Messages.tokenInvalid],
    "E-03": [Messages.tokenWithoutSubject],
    "E-04": [Messages.tokenBadSubject],
    "E-05": [Messages.userNotFound],
    "E-06": [Messages.emailNotFound],
    "E-07": [Messages.wrongPassword],
    "E-08": [Messages.refreshTokenInvalid],
    "E-09": [Messages.forbidden],
    "E-10": [Messages.entityNotFound("Отель", 5), Messages.entityNotFound("Страна", 0)],
    "E-11": [Messages.cityByNameNotFound("Казань"), Messages.cityByNameNotFound("")],
    "E-12": [Messages.hotelNotFound],
    "E-13": [Messages.userNotFound],
    "E-14": [Messages.countryNotFound],
    "E-15": [Messages.cityNotFoundNeuter],
    "E-16": [Messages.facilityNotFound],
    "E-17": [Messages.roomNotFound],
    "E-18": [Messages.roomOfAnotherHotel],
    "E-19": [Messages.bookingNotFound],
    "E-20": [Messages.imageNotFound],
    "E-21": [Messages.countryNotFoundFeminine],
    "E-22": [Messages.cityNotFound],
    "E-23": [Messages.holdNotFound],
    "E-27": [Messages.webhookNotFound],
    "E-28": [Messages.webhookDeliveryNotFound],
    "E-30": [
      Messages.userEmailTaken("anna@example.com"),
      Messages.hotelTitleTaken("Гранд Отель Москва"),
      Messages.countryNameTaken("Россия"),
      Messages.countryIsoTaken("ru"),
      Messages.cityNameTaken("Москва")
    ],
    "E-40": [Messages.periodInvalid],
    "E-41": [Messages.stayInvalid],
    "E-42": [Messages.roomSoldOut],
    "E-43": [Messages.bookingNotYours],
    "E-44": [Messages.stayInPast],
    "E-45": [Messages.roomQuantityBelowSold],
    "E-47": [Messages.holdExpired],
    "E-48": [Messages.tooManyHolds(5)],
    "E-49": [Messages.holdNotActive],
    "E-46": [Messages.bookingCancelled],
    "E-39": [Messages.nightsSoldOut(["2026-12-02", "2026-12-03"])],
    "E-50": [Messages.bodyTooLarge(1024)],
    "E-60": [Messages.notAnImage],
    "E-61": [Messages.fileTooLarge(10)],
    "E-62": [Messages.imageTooNarrow(800)],
    "E-63": [Messages.uploadFailed(Messages.processingFailed(reason))],
    "E-64": [Messages.processingFailed(reason)],
    "E-65": [Messages.imageJobsUnavailable],
    "E-71": [Messages.imageUploaded],
    "E-80": [Messages.workersNotResponding],
    "E-81": [Messages.noActiveWorkers],
    "E-90": [Messages.integrityViolation],
    "E-91": [Messages.databaseUnavailable],
    "E-92": [Messages.databaseError],
    "E-93": [Messages.internalError]
  }

  /** What is wrong with the rows against the texts: a code missing on either side, or a text not quoted. */
  const errorsProblems = (texts: Record<string, ReadonlyArray<string>>): ReadonlyArray<string> => [
    ...Object.keys(texts)
      .filter((code) => !rows.has(code))
      .map((code) => `${code}: no row`),
    ...[...rows.keys()].filter((code) => !(code in texts)).map((code) => `${code}: not in Messages.ts`),
    ...Object.entries(texts).flatMap(([code, wires]) =>
      wires.filter((wire) => !(rows.get(code) ?? "").includes(`\`${wire}\``)).map((wire) => `${code}: ${wire}`)
    )
  ]

  it("quotes every code's text exactly as Messages.ts produces it, and lists no other code", () => {
    assert.deepStrictEqual(errorsProblems(TEXTS), [])
  })

  it("names every problem type of Errors.ts", () => {
    const source = readFileSync(join(ROOT, "packages", "domain", "src", "Errors.ts"), "utf8")
    const types = new Set([...source.matchAll(/"(\/problems\/[\w-]+)"/g)].map((m) => m[1]!))
    assert.isAbove(types.size, 10)
    for (const type of types) assert.include(text, `\`${type}\``, type)
  })

  it("control: a text that differs by one character, or a code without a row, is caught", () => {
    const tampered = { ...TEXTS, "E-14": [Messages.countryNotFound + "а"], "E-99": ["x"] }
    assert.deepStrictEqual(errorsProblems(tampered), ["E-99: no row", `E-14: ${Messages.countryNotFound}а`, "E-99: x"])
  })
})

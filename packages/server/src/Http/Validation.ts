/**
 * Turns a schema `ParseIssue` into the FastAPI/Pydantic-style validation errors of docs/api.md §1.4:
 * `{"type", "loc", "msg", "input", "ctx"}` with `loc` starting at `body`, `query`, `path` or `header`.
 * Clients only rely on the 422 status; `type` and `msg` follow Pydantic where the schema tells us enough.
 */
import { ErrorType } from "@shum/domain/Common"
import type { ValidationIssue } from "@shum/domain/Errors"
import { Option, ParseResult, SchemaAST } from "effect"
import { type JsonTooDeep, MAX_JSON_DEPTH } from "./JsonBody.js"

export type Location = "body" | "query" | "path" | "header"
type Loc = ReadonlyArray<string | number>
type Issue = ValidationIssue

const issue = (type: string, loc: Loc, msg: string, input: unknown, ctx?: Record<string, unknown>): Issue =>
  ctx === undefined ? { type, loc, msg, input } : { type, loc, msg, input, ctx }

const jsonSchemaOf = (ast: SchemaAST.AST): Record<string, unknown> =>
  Option.getOrElse(SchemaAST.getJSONSchemaAnnotation(ast), () => ({})) as Record<string, unknown>

/** The Pydantic error type a schema declares for itself (`ErrorType` annotation), if any. */
const declaredType = (ast: SchemaAST.AST): string | undefined =>
  Option.getOrUndefined(SchemaAST.getAnnotation<string>(ast, ErrorType))

const customMessage = (parseIssue: ParseResult.ParseIssue): string | undefined => {
  if ((parseIssue._tag === "Type" || parseIssue._tag === "Forbidden") && parseIssue.message !== undefined) {
    return parseIssue.message
  }
  const message = "ast" in parseIssue ? SchemaAST.getMessageAnnotation(parseIssue.ast) : Option.none()
  if (Option.isNone(message)) return undefined
  const text = message.value(parseIssue)
  return typeof text === "string" ? text : undefined
}

/** Pydantic's reading of a failed refinement, from the JSON-schema annotation effect puts on its filters. */
const fromRefinement = (ast: SchemaAST.Refinement, loc: Loc, actual: unknown, parseIssue: ParseResult.ParseIssue) => {
  const js = jsonSchemaOf(ast)
  if (typeof js["maxLength"] === "number") {
    return issue("string_too_long", loc, `String should have at most ${js["maxLength"]} characters`, actual, {
      max_length: js["maxLength"]
    })
  }
  if (typeof js["minLength"] === "number") {
    const min = js["minLength"] as number
    return issue(
      "string_too_short",
      loc,
      `String should have at least ${min} character${min === 1 ? "" : "s"}`,
      actual,
      {
        min_length: min
      }
    )
  }
  if (typeof js["minimum"] === "number" && typeof actual === "number" && actual < (js["minimum"] as number)) {
    return issue("greater_than_equal", loc, `Input should be greater than or equal to ${js["minimum"]}`, actual, {
      ge: js["minimum"]
    })
  }
  if (typeof js["maximum"] === "number" && typeof actual === "number" && actual > (js["maximum"] as number)) {
    return issue("less_than_equal", loc, `Input should be less than or equal to ${js["maximum"]}`, actual, {
      le: js["maximum"]
    })
  }
  if (typeof js["exclusiveMinimum"] === "number") {
    return issue("greater_than", loc, `Input should be greater than ${js["exclusiveMinimum"]}`, actual, {
      gt: js["exclusiveMinimum"]
    })
  }
  if (typeof js["pattern"] === "string") {
    return issue(
      "string_pattern_mismatch",
      loc,
      customMessage(parseIssue) ?? `String should match pattern '${js["pattern"]}'`,
      actual,
      { pattern: js["pattern"] }
    )
  }
  if (js["type"] === "integer") {
    return typeof actual === "number"
      ? issue("int_from_float", loc, "Input should be a valid integer, got a number with a fractional part", actual)
      : issue("int_parsing", loc, "Input should be a valid integer, unable to parse string as an integer", actual)
  }
  return issue(
    "value_error",
    loc,
    customMessage(parseIssue) ?? ParseResult.TreeFormatter.formatIssueSync(parseIssue),
    actual
  )
}

const typeMismatch = (ast: SchemaAST.AST, loc: Loc, actual: unknown): Issue => {
  switch (ast._tag) {
    case "StringKeyword":
      return issue("string_type", loc, "Input should be a valid string", actual)
    case "NumberKeyword":
      return typeof actual === "string"
        ? issue("int_parsing", loc, "Input should be a valid integer, unable to parse string as an integer", actual)
        : issue("int_type", loc, "Input should be a valid integer", actual)
    case "BooleanKeyword":
      return issue("bool_type", loc, "Input should be a valid boolean", actual)
    case "TupleType":
      return issue("list_type", loc, "Input should be a valid list", actual)
    case "TypeLiteral":
      return issue(
        "model_attributes_type",
        loc,
        "Input should be a valid dictionary or object to extract fields from",
        actual
      )
    case "Literal":
      return issue("literal_error", loc, `Input should be ${JSON.stringify(ast.literal)}`, actual, {
        expected: JSON.stringify(ast.literal)
      })
    case "Union": {
      const literals = ast.types.filter(SchemaAST.isLiteral).map((t) => `'${String(t.literal)}'`)
      if (literals.length === ast.types.length) {
        const expected =
          literals.length > 1 ? `${literals.slice(0, -1).join(", ")} or ${literals.at(-1)}` : literals[0]!
        return issue("literal_error", loc, `Input should be ${expected}`, actual, { expected })
      }
      return issue("value_error", loc, "Input is not valid", actual)
    }
    case "Refinement":
    case "Transformation":
      return typeMismatch(ast.from, loc, actual)
    case "Suspend":
      return typeMismatch(ast.f(), loc, actual)
    default:
      return issue("value_error", loc, "Input is not valid", actual)
  }
}

/** Among a union's failed members, prefer one whose failure is deeper than "wrong type at the top". */
const bestUnionMember = (issues: ReadonlyArray<ParseResult.ParseIssue>): ParseResult.ParseIssue | undefined =>
  issues.find((i) => i._tag !== "Type") ?? issues[0]

const issuesOf = (composite: ParseResult.Composite): ReadonlyArray<ParseResult.ParseIssue> =>
  Array.isArray(composite.issues) ? composite.issues : [composite.issues as ParseResult.ParseIssue]

const walk = (parseIssue: ParseResult.ParseIssue, loc: Loc, parent: unknown, out: Array<Issue>): void => {
  switch (parseIssue._tag) {
    case "Pointer": {
      const path: ReadonlyArray<PropertyKey> = Array.isArray(parseIssue.path)
        ? parseIssue.path
        : [parseIssue.path as PropertyKey]
      const segments = path.map((p) => (typeof p === "number" ? p : String(p)))
      return walk(parseIssue.issue, [...loc, ...segments], parseIssue.actual, out)
    }
    case "Composite": {
      if (parseIssue.ast._tag === "Union") {
        const best = bestUnionMember(issuesOf(parseIssue))
        if (best === undefined || best._tag === "Type") {
          out.push(typeMismatch(parseIssue.ast, loc, parseIssue.actual))
          return
        }
        return walk(best, loc, parent, out)
      }
      for (const child of issuesOf(parseIssue)) walk(child, loc, parseIssue.actual, out)
      return
    }
    case "Missing":
      out.push(issue("missing", loc, "Field required", parent ?? null))
      return
    case "Unexpected":
      out.push(issue("extra_forbidden", loc, parseIssue.message ?? "Extra inputs are not permitted", parseIssue.actual))
      return
    case "Forbidden":
      out.push(issue("value_error", loc, parseIssue.message ?? "Input is not allowed", parseIssue.actual))
      return
    case "Type":
      if (declaredType(parseIssue.ast) !== undefined) {
        out.push(
          issue(
            declaredType(parseIssue.ast)!,
            loc,
            customMessage(parseIssue) ?? "Input is not valid",
            parseIssue.actual
          )
        )
        return
      }
      if (parseIssue.ast._tag === "NeverKeyword") {
        out.push(
          issue(
            "extra_forbidden",
            loc,
            customMessage(parseIssue) ?? "Extra inputs are not permitted",
            parseIssue.actual
          )
        )
        return
      }
      out.push(
        customMessage(parseIssue) !== undefined && parseIssue.ast._tag === "Declaration"
          ? issue("value_error", loc, customMessage(parseIssue)!, parseIssue.actual)
          : typeMismatch(parseIssue.ast, loc, parseIssue.actual)
      )
      return
    case "Refinement":
      if (parseIssue.kind === "From") return walk(parseIssue.issue, loc, parent, out)
      out.push(fromRefinement(parseIssue.ast, loc, parseIssue.actual, parseIssue))
      return
    case "Transformation":
      if (parseIssue.kind === "Transformation" && parseIssue.issue._tag === "Type") {
        // e.g. NumberFromString given "abc": the encoded side was right, the conversion failed
        out.push(fromTransformation(parseIssue, loc))
        return
      }
      return walk(parseIssue.issue, loc, parent, out)
  }
}

const fromTransformation = (parseIssue: ParseResult.Transformation, loc: Loc): Issue => {
  const js = jsonSchemaOf(parseIssue.ast)
  const target = parseIssue.ast.to
  if (js["type"] === "integer" || target._tag === "NumberKeyword" || jsonSchemaOf(target)["type"] === "integer") {
    return issue(
      "int_parsing",
      loc,
      "Input should be a valid integer, unable to parse string as an integer",
      parseIssue.actual
    )
  }
  const declared = declaredType(parseIssue.ast) ?? declaredType(target)
  if (declared !== undefined || customMessage(parseIssue.issue) !== undefined) {
    return issue(
      declared ?? "value_error",
      loc,
      customMessage(parseIssue.issue) ?? "Input is not valid",
      parseIssue.actual
    )
  }
  return issue(
    "value_error",
    loc,
    customMessage(parseIssue.issue) ?? ParseResult.TreeFormatter.formatIssueSync(parseIssue),
    parseIssue.actual
  )
}

/** FastAPI-style errors for one part of the request. A missing or `null` body is `loc: ["body"]`, `missing`. */
export const toValidationIssues = (location: Location, parseIssue: ParseResult.ParseIssue): Array<Issue> => {
  const out: Array<Issue> = []
  if (
    location === "body" &&
    (parseIssue.actual === undefined || parseIssue.actual === null) &&
    parseIssue._tag !== "Pointer"
  ) {
    return [issue("missing", ["body"], "Field required", null)]
  }
  walk(parseIssue, [location], undefined, out)
  return out
}

/**
 * `JSON.parse`'s complaint, as Pydantic reports it: `json_invalid` at the character offset. V8 quotes the
 * text around an unexpected token (`Unexpected token 'h', ..."assword": hunter2}" is not valid JSON`),
 * which could be a password: the quote is left out.
 */
export const jsonInvalid = (error: unknown, text: string): Issue => {
  const message = error instanceof Error ? error.message : String(error)
  const position = /position (\d+)/.exec(message)
  const offset = position ? Number(position[1]) : text.length
  const unquoted = message.replace(/^(Unexpected token) .*$/s, "$1 in JSON")
  return issue("json_invalid", ["body", offset], "JSON decode error", {}, { error: unquoted })
}

/** docs/decisions.md D11: a body nested deeper than `MAX_JSON_DEPTH`, at the offset where it goes too deep. */
export const jsonTooDeep = (error: JsonTooDeep): Issue =>
  issue(
    "json_too_deep",
    ["body", error.offset],
    `JSON nested deeper than ${MAX_JSON_DEPTH} levels`,
    {},
    {
      max_depth: MAX_JSON_DEPTH
    }
  )

// --- what a 422 may echo (docs/decisions.md D11) ---------------------------------------------------------

/** The most characters of a client's input a 422 repeats; longer inputs are cut and end with `…`. */
const MAX_ECHO = 200
/** A `msg` longer than this (a schema's own wording may quote the value) is cut too. */
const MAX_MESSAGE = 500
/** Fields whose value is a secret: their `input` is never echoed, nor their value anywhere in the answer. */
const SECRET_FIELD = /password/i
/** Shorter values are not searched for in the answer (a 1-character "password" is refused anyway). */
const MIN_SECRET = 3

const cut = (text: string, max: number): string => {
  if (text.length <= max) return text
  const last = text.charCodeAt(max - 1)
  // never end on half of a surrogate pair
  const end = last >= 0xd800 && last <= 0xdbff ? max - 1 : max
  return `${text.slice(0, end)}…`
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

/**
 * The JSON text of `value` without secret members, stopping soon after `MAX_ECHO` characters: a large
 * input is never serialised whole. Nesting is bounded (the body's, `JsonBody.ts`); deeper parts are `…`.
 */
const boundedJson = (value: unknown): string => {
  let text = ""
  const full = () => text.length > MAX_ECHO
  const visit = (v: unknown, depth: number): void => {
    if (depth > MAX_JSON_DEPTH) {
      text += '"…"'
    } else if (Array.isArray(v)) {
      text += "["
      for (let i = 0; i < v.length && !full(); i++) {
        if (i > 0) text += ","
        visit(v[i], depth + 1)
      }
      text += "]"
    } else if (isRecord(v)) {
      text += "{"
      let first = true
      for (const key in v) {
        if (full()) break
        if (!Object.hasOwn(v, key) || SECRET_FIELD.test(key)) continue
        text += `${first ? "" : ","}${JSON.stringify(key)}:`
        first = false
        visit(v[key], depth + 1)
      }
      text += "}"
    } else if (typeof v === "string") {
      text += JSON.stringify(v.length > MAX_ECHO ? v.slice(0, MAX_ECHO + 1) : v)
    } else {
      text += typeof v === "number" || typeof v === "boolean" ? JSON.stringify(v) : "null"
    }
  }
  visit(value, 0)
  return text
}

/** An input as a 422 may echo it: at most `MAX_ECHO` characters, secret members left out. */
const boundedInput = (input: unknown): unknown => {
  if (typeof input === "string") return cut(input, MAX_ECHO)
  if (!isRecord(input)) return input
  const text = boundedJson(input)
  return text.length <= MAX_ECHO ? (JSON.parse(text) as unknown) : cut(text, MAX_ECHO)
}

/** The values of the secret fields of a request body (any depth), to keep out of its 422. */
export const secretsOf = (body: unknown): ReadonlyArray<string> => {
  const out: Array<string> = []
  const visit = (v: unknown, depth: number): void => {
    if (depth > MAX_JSON_DEPTH || !isRecord(v)) return
    for (const [key, value] of Object.entries(v)) {
      if (SECRET_FIELD.test(key) && typeof value === "string" && value.length >= MIN_SECRET) out.push(value)
      else visit(value, depth + 1)
    }
  }
  visit(body, 0)
  return out
}

const hide = (text: string, secrets: ReadonlyArray<string>): string =>
  secrets.reduce((acc, secret) => (acc.includes(secret) ? acc.split(secret).join("***") : acc), text)

const isSecretLoc = (loc: Loc) => loc.some((segment) => typeof segment === "string" && SECRET_FIELD.test(segment))

/**
 * docs/decisions.md D11: what any 422 says about the input — each `input` at most `MAX_ECHO` characters (cut
 * with `…`), none at all for a password field, and no password of the request (`secrets`) anywhere in
 * `msg` or `ctx`, where a schema's wording might quote it.
 */
export const boundIssues = (issues: ReadonlyArray<Issue>, secrets: ReadonlyArray<string> = []): Array<Issue> =>
  issues.map((original) => {
    const { ctx, input, msg, ...rest } = original
    const bounded: Issue = { ...rest, msg: cut(hide(msg, secrets), MAX_MESSAGE) }
    const out: { -readonly [K in keyof Issue]: Issue[K] } = bounded
    if (input !== undefined && !isSecretLoc(original.loc)) {
      out.input = typeof input === "string" ? cut(hide(input, secrets), MAX_ECHO) : boundedInput(input)
    }
    if (ctx !== undefined) {
      out.ctx = Object.fromEntries(
        Object.entries(ctx).map(([key, value]) => [
          key,
          typeof value === "string" ? cut(hide(value, secrets), MAX_ECHO) : boundedInput(value)
        ])
      )
    }
    return out
  })

/**
 * Turns a schema `ParseIssue` into the FastAPI/Pydantic-style validation errors of docs/api.md §1.4:
 * `{"type", "loc", "msg", "input", "ctx"}` with `loc` starting at `body`, `query`, `path` or `header`.
 * Clients only rely on the 422 status; `type` and `msg` follow Pydantic where the schema tells us enough.
 */
import { ErrorType } from "@shum/domain/Common"
import type { ValidationIssue } from "@shum/domain/Errors"
import { Option, ParseResult, SchemaAST } from "effect"

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

/** `JSON.parse`'s complaint, as Pydantic reports it: `json_invalid` at the character offset. */
export const jsonInvalid = (error: unknown, text: string): Issue => {
  const message = error instanceof Error ? error.message : String(error)
  const position = /position (\d+)/.exec(message)
  const offset = position ? Number(position[1]) : text.length
  return issue("json_invalid", ["body", offset], "JSON decode error", {}, { error: message })
}

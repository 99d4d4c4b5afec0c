/**
 * Post-processing of the generated OpenAPI document (the `OpenApi.Transform` of `ShumApi`), and the
 * per-endpoint additions that `HttpApi` has no annotation for.
 *
 * 1. `HttpApi` documents a 400 `HttpApiDecodeError` on every endpoint. This service never sends it: the
 *    server turns every decode failure into a 422 `ValidationError` (docs/api.md §1.4), which the endpoints
 *    that take input declare themselves. So the decode error is removed — only it: an endpoint's own 400s
 *    (`BadRequest`, `InvalidDateRange`) are merged into the same response by `HttpApi` and must stay.
 * 2. When several errors share a status, `HttpApi` lists them under `application/json`, losing their media
 *    type. Problem documents are moved back under `application/problem+json` (D9).
 * 3. Request bodies ignore unknown fields (docs/api.md §1.2), so their schemas must not say
 *    `additionalProperties: false` (which `HttpApi` writes on every struct).
 * 4. effect marks its `unknown` and `never` schemas with `$id: "/schemas/unknown"` (…), the same `$id` in
 *    several places, which validators reject as ambiguous; they are dropped.
 * 5. Every request and response body gets media-type `examples`, taken from its schema's own examples (the
 *    models' and errors' `examples` annotations), so Swagger UI, Redoc and generators show real values (D8);
 *    a list answer is described as the list of its items rather than "Success".
 * 6. Headers the middlewares add (`OpenApiHeaders.ts`, which also has the per-endpoint transforms), last, so
 *    the 413 of step 7 has them too.
 * 7. docs/decisions.md D11: every operation that takes a body other than a multipart upload may answer 413
 *    (`MAX_JSON_BODY_KB`, enforced by the server before routing), which `HttpApi` has no way to declare once.
 *
 * Not a step of the document: `relativeExampleDates`, which the server applies to the document it serves.
 */
import { EXAMPLE_CHECK_IN, EXAMPLE_CHECK_OUT } from "./Common.js"
import { ProblemContentType, Problems } from "./Errors.js"
import { Messages } from "./Messages.js"
import { addMiddlewareHeaders } from "./OpenApiHeaders.js"

type Json = Record<string, unknown>

const DECODE_ERROR_REF = "#/components/schemas/HttpApiDecodeError"
const SCHEMA_REF_PREFIX = "#/components/schemas/"
const problemRefs = new Set(Object.keys(Problems).map((name) => `${SCHEMA_REF_PREFIX}${name}`))

const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null

/** The alternatives of a response schema when they are all references, else `undefined` (left as is). */
const referencedAlternatives = (schema: unknown): Array<Json> | undefined => {
  if (!isObject(schema)) return undefined
  const alternatives = Array.isArray(schema["anyOf"]) ? (schema["anyOf"] as Array<unknown>) : [schema]
  return alternatives.every((alt) => isObject(alt) && typeof alt["$ref"] === "string")
    ? (alternatives as Array<Json>)
    : undefined
}

const schemaOf = (alternatives: ReadonlyArray<Json>): Json =>
  alternatives.length === 1 ? alternatives[0]! : { anyOf: alternatives }

/** Rebuilds one error response's content; returns `false` when nothing is left of it. */
const rewriteErrorResponse = (response: Json, schemas: Json): boolean => {
  const content = response["content"]
  if (!isObject(content)) return true
  const byType = new Map<string, Array<Json>>()
  const untouched: Json = {}
  for (const [type, media] of Object.entries(content)) {
    const alternatives = referencedAlternatives(isObject(media) ? media["schema"] : undefined)
    if (alternatives === undefined) {
      untouched[type] = media
      continue
    }
    for (const alt of alternatives) {
      const ref = alt["$ref"] as string
      if (ref === DECODE_ERROR_REF) continue
      const target = problemRefs.has(ref) ? ProblemContentType : type
      byType.set(target, [...(byType.get(target) ?? []), alt])
    }
  }
  const rebuilt: Json = { ...untouched }
  for (const [type, alternatives] of byType) rebuilt[type] = { schema: schemaOf(alternatives) }
  if (Object.keys(rebuilt).length === 0) return false
  response["content"] = rebuilt
  // `HttpApi` describes a status by its first error (often the decode error); describe what is left.
  const components = [...byType.values()].flat().map((alt) => {
    const component = schemas[(alt["$ref"] as string).slice(SCHEMA_REF_PREFIX.length)]
    return isObject(component) ? component : {}
  })
  const only = components.length === 1 ? components[0]!["description"] : undefined
  const titles = components.map((component) => component["title"] ?? component["description"])
  if (typeof only === "string") response["description"] = only
  else if (titles.length > 1 && titles.every((title) => typeof title === "string")) {
    response["description"] = titles.join("; ")
  }
  return true
}

const stripDecodeErrors = (spec: Json): Json => {
  const components = (spec["components"] ?? {}) as Json
  const schemas = (components["schemas"] ?? {}) as Json
  const paths = (spec["paths"] ?? {}) as Record<string, Record<string, Json>>
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      const responses = operation["responses"] as Record<string, Json> | undefined
      if (responses === undefined) continue
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) < 400) continue
        if (!rewriteErrorResponse(response, schemas)) delete responses[status]
      }
    }
  }
  delete schemas["HttpApiDecodeError"]
  delete schemas["Issue"]
  delete schemas["PropertyKey"]
  return spec
}

/** Request-body schemas allow extra members: the server ignores them rather than refusing the body. */
const allowExtraBodyFields = (spec: Json): Json => {
  const schemas = (((spec["components"] ?? {}) as Json)["schemas"] ?? {}) as Json
  const paths = (spec["paths"] ?? {}) as Record<string, Record<string, Json>>
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      const content = ((operation["requestBody"] ?? {}) as Json)["content"]
      if (!isObject(content)) continue
      for (const media of Object.values(content)) {
        const schema = isObject(media) ? media["schema"] : undefined
        const ref = isObject(schema) ? schema["$ref"] : undefined
        const target = typeof ref === "string" ? schemas[ref.slice(SCHEMA_REF_PREFIX.length)] : schema
        if (isObject(target) && target["additionalProperties"] === false) delete target["additionalProperties"]
      }
    }
  }
  return spec
}

/** Walks every object of the document (depth first), parents before children. */
const walk = (node: unknown, visit: (object: Json) => void): void => {
  if (Array.isArray(node)) for (const item of node) walk(item, visit)
  else if (isObject(node)) {
    visit(node)
    for (const value of Object.values(node)) walk(value, visit)
  }
}

/** Step 4: effect's keyword schemas (`{"$id": "/schemas/unknown", "title": "unknown"}`) become plain schemas. */
const dropKeywordIds = (spec: Json): Json => {
  walk(spec, (node) => {
    const id = node["$id"]
    if (typeof id !== "string" || !id.startsWith("/schemas/")) return
    delete node["$id"]
    if (node["title"] === id.slice("/schemas/".length)) delete node["title"]
  })
  return spec
}

const operationsOf = (spec: Json): Array<Json> =>
  Object.values((spec["paths"] ?? {}) as Record<string, Record<string, Json>>).flatMap((item) => Object.values(item))

const responsesOf = (operation: Json): Array<[status: string, response: Json]> =>
  Object.entries((operation["responses"] ?? {}) as Record<string, Json>)

/** A schema's first example: its own, its component's, or a one-item list of its items' example. */
const exampleOf = (schema: unknown, schemas: Json): { readonly value: unknown } | undefined => {
  if (!isObject(schema)) return undefined
  const ref = schema["$ref"]
  if (typeof ref === "string") return exampleOf(schemas[ref.slice(SCHEMA_REF_PREFIX.length)], schemas)
  const examples = schema["examples"]
  if (Array.isArray(examples) && examples.length > 0) return { value: examples[0] }
  if (schema["type"] === "array") {
    const item = exampleOf(schema["items"], schemas)
    return item === undefined ? undefined : { value: [item.value] }
  }
  return undefined
}

/** The name a body's example is listed under: its component (or its items' component), else `example`. */
const exampleName = (schema: Json): string => {
  const target = schema["type"] === "array" && isObject(schema["items"]) ? schema["items"] : schema
  const ref = target["$ref"]
  return typeof ref === "string" ? ref.slice(SCHEMA_REF_PREFIX.length) : "example"
}

/** One example per alternative of the body (`anyOf` of errors sharing a status: one each, titled). */
const mediaExamples = (schema: Json, schemas: Json): Json | undefined => {
  const alternatives = referencedAlternatives(schema)
  const several = alternatives !== undefined && alternatives.length > 1
  const entries = (several ? alternatives : [schema]).map((alternative) => {
    const example = exampleOf(alternative, schemas)
    if (example === undefined) return undefined
    const name = exampleName(alternative)
    const component = schemas[name]
    const title = several && isObject(component) ? component["title"] : undefined
    return [name, typeof title === "string" ? { summary: title, value: example.value } : { value: example.value }]
  })
  return entries.every((entry) => entry !== undefined) ? Object.fromEntries(entries) : undefined
}

/** Step 5: media-type `examples` on every body whose schema has examples (all but the image upload's file). */
const addMediaExamples = (spec: Json): Json => {
  const schemas = (((spec["components"] ?? {}) as Json)["schemas"] ?? {}) as Json
  const bodies = operationsOf(spec).flatMap((operation) => [
    (operation["requestBody"] ?? {}) as Json,
    ...responsesOf(operation).map(([, response]) => response)
  ])
  for (const body of bodies) {
    const content = body["content"]
    if (!isObject(content)) continue
    for (const media of Object.values(content)) {
      if (!isObject(media) || !isObject(media["schema"]) || "example" in media || "examples" in media) continue
      const examples = mediaExamples(media["schema"], schemas)
      if (examples !== undefined) media["examples"] = examples
    }
  }
  return spec
}

/** Step 5b: `HttpApi` describes a list answer as "Success"; name what is listed. */
const describeLists = (spec: Json): Json => {
  for (const operation of operationsOf(spec)) {
    for (const [, response] of responsesOf(operation)) {
      if (response["description"] !== "Success" || !isObject(response["content"])) continue
      const schema = (Object.values(response["content"])[0] as Json | undefined)?.["schema"]
      if (isObject(schema) && schema["type"] === "array" && isObject(schema["items"])) {
        const ref = schema["items"]["$ref"]
        if (typeof ref === "string") response["description"] = `A list of \`${ref.slice(SCHEMA_REF_PREFIX.length)}\``
      }
    }
  }
  return spec
}

/** The body limit's answer (step 7); the example quotes the default `MAX_JSON_BODY_KB`. */
const BODY_TOO_LARGE: Json = {
  description: "The request body exceeds `MAX_JSON_BODY_KB` (default 1024 KiB); the server reads no further.",
  content: {
    [ProblemContentType]: {
      schema: { $ref: `${SCHEMA_REF_PREFIX}PayloadTooLarge` },
      examples: {
        PayloadTooLarge: {
          value: {
            type: "/problems/payload-too-large",
            title: "Payload Too Large",
            status: 413,
            detail: Messages.bodyTooLarge(1024)
          }
        }
      }
    }
  }
}

/** Step 7: a 413 on every operation with a (non-multipart) request body. */
const documentBodyLimit = (spec: Json): Json => {
  for (const operation of operationsOf(spec)) {
    const content = ((operation["requestBody"] ?? {}) as Json)["content"]
    if (!isObject(content) || Object.keys(content).every((type) => type.startsWith("multipart/"))) continue
    const responses = (operation["responses"] ?? {}) as Record<string, Json>
    if (responses["413"] === undefined) responses["413"] = structuredClone(BODY_TOO_LARGE)
    operation["responses"] = responses
  }
  return spec
}

/** Every post-processing step, in order: the `OpenApi.Transform` of `ShumApi`. */
export const finishDocument = (spec: Json): Json =>
  addMiddlewareHeaders(
    documentBodyLimit(describeLists(addMediaExamples(dropKeywordIds(allowExtraBodyFields(stripDecodeErrors(spec))))))
  )

const DAY_MS = 86_400_000

/** `YYYY-MM-DD` of the UTC day `days` after `today` (itself `YYYY-MM-DD`). */
const daysAfter = (today: string, days: number) =>
  new Date(Date.parse(`${today}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10)

/** A copy of `node` with every string equal to a key of `replacements` replaced by its value. */
const replaceStrings = (node: unknown, replacements: ReadonlyMap<string, string>): unknown => {
  if (typeof node === "string") return replacements.get(node) ?? node
  if (Array.isArray(node)) return node.map((item) => replaceStrings(item, replacements))
  if (isObject(node)) {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, replaceStrings(value, replacements)]))
  }
  return node
}

/**
 * The document as served on `today` (UTC, `YYYY-MM-DD`): the examples' stay (`EXAMPLE_CHECK_IN` …
 * `EXAMPLE_CHECK_OUT`) moved to today + 30 … today + 33, so "Try it out" on `POST /bookings` and the
 * availability searches works as shipped, whenever it is tried. The document itself keeps the fixed dates,
 * so it — and the client generated from it — does not change from one day to the next.
 */
export const relativeExampleDates = (spec: Json, today: string): Json =>
  replaceStrings(
    spec,
    new Map([
      [EXAMPLE_CHECK_IN, daysAfter(today, 30)],
      [EXAMPLE_CHECK_OUT, daysAfter(today, 33)]
    ])
  ) as Json

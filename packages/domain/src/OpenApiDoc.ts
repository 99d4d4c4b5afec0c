/**
 * Post-processing of the generated OpenAPI document.
 *
 * 1. `HttpApi` documents a 400 `HttpApiDecodeError` on every endpoint. This service never sends it: the
 *    server turns every decode failure into a 422 `ValidationError` (API.md §1.4), which the endpoints
 *    that take input declare themselves. So the decode error is removed — only it: an endpoint's own 400s
 *    (`BadRequest`, `InvalidDateRange`) are merged into the same response by `HttpApi` and must stay.
 * 2. When several errors share a status, `HttpApi` lists them under `application/json`, losing their media
 *    type. Problem documents are moved back under `application/problem+json` (D9).
 * 3. Request bodies ignore unknown fields (API.md §1.2), so their schemas must not say
 *    `additionalProperties: false` (which `HttpApi` writes on every struct).
 */
import { ProblemContentType, Problems } from "./Errors.js"

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

export const stripDecodeErrors = (spec: Json): Json => {
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
export const allowExtraBodyFields = (spec: Json): Json => {
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

/** Every post-processing step, in order: the `OpenApi.Transform` of `ShumApi`. */
export const finishDocument = (spec: Json): Json => allowExtraBodyFields(stripDecodeErrors(spec))

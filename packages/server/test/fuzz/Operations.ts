/**
 * The operations of the OpenAPI document of `ShumApi`, as the fuzz suite needs them: method, path template,
 * whether it is secured, its path/query/header parameters and the top-level fields of its request body,
 * each with the kind of value it declares.
 */
import { OpenApi } from "@effect/platform"
import { ShumApi } from "@shum/domain/Api"
import type { FieldKind } from "./Hostile.js"

type Json = Record<string, unknown>

export interface Field {
  readonly name: string
  readonly required: boolean
  readonly kind: FieldKind
  /** The field's schema, `$ref`s resolved and `null` alternatives dropped. */
  readonly schema: Json
  /** Declared as refused (`not: {}`), e.g. `hashed_password`. */
  readonly refused: boolean
}

export interface Parameter extends Field {
  readonly in: "path" | "query" | "header"
}

export interface Operation {
  readonly method: string
  readonly path: string
  readonly id: string
  readonly secured: boolean
  readonly parameters: ReadonlyArray<Parameter>
  readonly body:
    | { readonly contentType: "application/json"; readonly fields: ReadonlyArray<Field> }
    | { readonly contentType: "multipart/form-data"; readonly fields: ReadonlyArray<Field> }
    | undefined
}

const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

export const document = OpenApi.fromApi(ShumApi) as unknown as Json

const REF = "#/components/schemas/"
const components = (document["components"] as Json)["schemas"] as Json

/** `$ref` resolved (with the name it had), sibling keywords kept; the first non-null `anyOf` alternative. */
const resolve = (schema: unknown, names: Array<string> = []): { schema: Json; names: Array<string> } => {
  if (!isObject(schema)) return { schema: {}, names }
  const ref = schema["$ref"]
  if (typeof ref === "string" && ref.startsWith(REF)) {
    const name = ref.slice(REF.length)
    const { $ref: _ignored, ...rest } = schema
    const target = resolve(components[name], [...names, name])
    return { schema: { ...target.schema, ...rest }, names: target.names }
  }
  const anyOf = schema["anyOf"]
  if (Array.isArray(anyOf)) {
    const alternative = anyOf.find((alt) => !(isObject(alt) && alt["type"] === "null"))
    return resolve(alternative, names)
  }
  return { schema, names }
}

const kindOf = (schema: Json, names: ReadonlyArray<string>): FieldKind => {
  if (names.includes("Time")) return "time"
  if (schema["format"] === "date" || names.includes("Date")) return "date"
  if (schema["format"] === "email" || names.includes("Email")) return "email"
  switch (schema["type"]) {
    case "integer":
      return "integer"
    case "number":
      return "number"
    case "boolean":
      return "boolean"
    case "array":
      return "array"
    case "object":
      return "object"
    default:
      return "string"
  }
}

const fieldOf = (name: string, raw: unknown, required: boolean): Field => {
  const refused = isObject(raw) && isObject(raw["not"])
  const { schema, names } = resolve(raw)
  return { name, required, kind: kindOf(schema, names), schema, refused }
}

const bodyOf = (operation: Json): Operation["body"] => {
  const content = isObject(operation["requestBody"]) ? (operation["requestBody"]["content"] as Json) : undefined
  if (content === undefined) return undefined
  const [contentType, media] = Object.entries(content)[0] ?? []
  if (contentType !== "application/json" && contentType !== "multipart/form-data") {
    throw new Error(`the fuzz suite does not know request bodies of ${String(contentType)}`)
  }
  const { schema } = resolve(isObject(media) ? media["schema"] : undefined)
  const required = new Set(Array.isArray(schema["required"]) ? (schema["required"] as Array<string>) : [])
  const properties = isObject(schema["properties"]) ? schema["properties"] : {}
  const fields = Object.entries(properties).map(([name, raw]) => fieldOf(name, raw, required.has(name)))
  return { contentType, fields }
}

export const operations: ReadonlyArray<Operation> = Object.entries(document["paths"] as Json).flatMap(([path, item]) =>
  Object.entries(item as Json)
    .filter(([method]) => ["get", "post", "put", "patch", "delete"].includes(method))
    .map(([method, raw]): Operation => {
      const operation = raw as Json
      const parameters = (Array.isArray(operation["parameters"]) ? operation["parameters"] : []).map(
        (p: Json): Parameter => ({
          ...fieldOf(String(p["name"]), p["schema"], p["required"] === true),
          in: p["in"] as Parameter["in"]
        })
      )
      return {
        method: method.toUpperCase(),
        path,
        id: `${method.toUpperCase()} ${path}`,
        secured: Array.isArray(operation["security"]) && operation["security"].length > 0,
        parameters,
        body: bodyOf(operation)
      }
    })
)

/**
 * D7: the catalogue's `GET`s carry a strong `ETag` computed from the body and answer `304` (empty body) to a
 * matching `If-None-Match`. Reads are always fresh: the server's catalogue cache (`Catalogue/CatalogueCache.ts`)
 * serves only answers of the catalogue's current version, and computes each kept body's tag once
 * (`rememberEtag`).
 * `Cache-Control: no-cache` lets clients and proxies keep a copy but revalidate it on every use.
 *
 * One generic step (`RequestPipeline.ts`) rather than per-handler code: it looks only at the final response,
 * so the tag is exactly the bytes a client would receive.
 */
import * as Headers from "@effect/platform/Headers"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { createHash } from "node:crypto"
import { withHeaders } from "./ResponseHeaders.js"
import { findRoute, type RouteMatch } from "./RouteTable.js"

/** docs/api.md §1.8's nine cached reads, plus `GET /facilities/{id}`. Availability (H2, R2) is left out, as there. */
const CATALOGUE_READS: ReadonlySet<string> = new Set([
  "countries.list",
  "countries.get",
  "cities.list",
  "cities.get",
  "facilities.list",
  "facilities.get",
  "hotels.list",
  "hotels.get",
  "rooms.list",
  "rooms.get"
])

const pathOf = (url: string) => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

export const isCatalogueRead = (method: string, url: string): boolean => {
  try {
    return method === "GET" && isCatalogueRoute(findRoute(method, pathOf(url)))
  } catch {
    return false // a path that does not decode is no catalogue read
  }
}

/** The route of a `GET` is a catalogue read (`RequestPipeline.ts` has the match already). */
export const isCatalogueRoute = (match: RouteMatch | undefined): boolean =>
  match !== undefined && CATALOGUE_READS.has(`${match.route.groupName}.${match.route.endpoint.name}`)

/** A strong validator: 27 base64url characters (162 bits) of the body's SHA-256, quoted. */
export const strongEtag = (body: Uint8Array): string =>
  `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`

/** The validators a `200` with this body carries: its strong `ETag`, and `Cache-Control: no-cache`. */
type Validators = Readonly<Record<string, string>> & { readonly etag: string }

const validatorsOf = (body: Uint8Array): Validators => ({ etag: strongEtag(body), "cache-control": "no-cache" })

/** The validators of bodies the catalogue cache keeps (the same `Uint8Array` is answered on every hit). */
const knownValidators = new WeakMap<Uint8Array, Validators>()

/** Computes the body's tag once, for every response that answers with this very `Uint8Array`. */
export const rememberEtag = (body: Uint8Array): void => {
  if (!knownValidators.has(body)) knownValidators.set(body, validatorsOf(body))
}

/**
 * RFC 9110 §13.1.2: `If-None-Match` is `*` or a list of entity tags, compared weakly (a `W/` prefix
 * is ignored).
 */
export const ifNoneMatchHits = (header: string | undefined, etag: string): boolean => {
  if (header === undefined) return false
  if (header.trim() === "*") return true
  const tags = header.match(/(?:W\/)?"[^"]*"/g) ?? []
  return tags.some((tag) => tag.replace(/^W\//, "") === etag)
}

/**
 * Applied to the final response (after error mapping), just before it is written: an outer middleware
 * would see it too late, the server having written it already.
 */
export const withValidators = (
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse
): HttpServerResponse.HttpServerResponse => {
  if (response.status !== 200 || response.body._tag !== "Uint8Array") return response
  const validators = knownValidators.get(response.body.body) ?? validatorsOf(response.body.body)
  return ifNoneMatchHits(request.headers["if-none-match"], validators.etag)
    ? HttpServerResponse.empty({
        status: 304,
        headers: Headers.setAll(response.headers, validators),
        cookies: response.cookies
      })
    : withHeaders(response, validators)
}

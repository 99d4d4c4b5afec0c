/**
 * No query parameter is ignored silently (docs/api.md §1.5): a parameter the endpoint does not declare is
 * still ignored — as the original (FastAPI) ignores it, so its clients keep working — but the answer says
 * so, in a `Warning` header (code `299`, "miscellaneous persistent warning", of RFC 7234; RFC 9111 retired
 * the header for caches, but it is the one standard place for such a notice and every client may ignore it):
 *
 *     Warning: 299 - "unknown query parameters ignored: fields, sort"
 *
 * One rule for every endpoint, derived from each one's declared url params schema (`RouteTable.ts`), never
 * listed by hand. Names are shown percent-encoded (a header carries ASCII only), at most `SHOWN` of them.
 */
import type { Route } from "./RouteTable.js"

export const SHOWN = 10
const LONGEST = 64

/** The query parameters of `url` that `route` does not declare, each once, in their order of appearance. */
export const unknownQueryParams = (route: Route, url: string): ReadonlyArray<string> => {
  const q = url.indexOf("?")
  if (q === -1 || q === url.length - 1) return []
  const unknown = new Set<string>()
  for (const name of new URLSearchParams(url.slice(q + 1)).keys()) {
    if (!route.queryParams.has(name)) unknown.add(name)
  }
  return [...unknown]
}

const shown = (name: string) => {
  if (name === "") return "(empty name)"
  const encoded = encodeURIComponent(name)
  return encoded.length > LONGEST ? `${encoded.slice(0, LONGEST)}...` : encoded
}

/** The `Warning` header's value naming these parameters (ASCII only: encoded names, no quote inside). */
export const unknownParamsWarning = (names: ReadonlyArray<string>): string => {
  const listed = names.slice(0, SHOWN).map(shown).join(", ")
  const more = names.length > SHOWN ? ` and ${names.length - SHOWN} more` : ""
  const noun = names.length === 1 ? "parameter" : "parameters"
  return `299 - "unknown query ${noun} ignored: ${listed}${more}"`
}

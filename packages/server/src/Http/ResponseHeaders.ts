/**
 * Headers set on a response in one copy (issue 18, bench/README.md): `withHeaders`.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"

/**
 * `HttpServerResponse.setHeaders(response, headers)` for headers named in lower case with string values: the same
 * response — status, headers (names, values, order), cookies, body — made for a fraction of the CPU. `setHeaders`
 * spreads the new headers over a spread copy of the old ones, and V8 adds a property to an object made by a
 * spread on its slow path (about 0.5 µs per header; an object built from `{}` takes it in a few ns): here the
 * headers are copied into a new object one by one and the response made from them by `setStatus` with its own
 * status, which keeps everything but the status of the response it is given — a record of the response's own
 * fields with these headers. The response's constructor then copies them as for `setHeaders` (its type and
 * length set again, as they were). A body declaring neither type nor length (an empty one) would keep the
 * plain object as its headers where `setHeaders` gives a `Headers` object: `setHeaders` then. Pinned against
 * `setHeaders` by `test/unit/ResponseHeaders.test.ts` (issue 18, bench/README.md).
 */
export const withHeaders = (
  response: HttpServerResponse.HttpServerResponse,
  headers: Readonly<Record<string, string>>
): HttpServerResponse.HttpServerResponse => {
  const body = response.body as {
    readonly contentType?: string | undefined
    readonly contentLength?: number | undefined
  }
  if (!body.contentType && !body.contentLength) return HttpServerResponse.setHeaders(response, headers)
  const merged: Record<string, string> = {}
  const own = response.headers
  for (const key in own) merged[key] = own[key]!
  for (const key in headers) merged[key] = headers[key]!
  const fields = {
    [HttpServerResponse.TypeId]: HttpServerResponse.TypeId,
    status: response.status,
    statusText: response.statusText,
    headers: merged,
    cookies: response.cookies,
    body: response.body
  } as unknown as HttpServerResponse.HttpServerResponse
  return HttpServerResponse.setStatus(fields, response.status, response.statusText)
}

/**
 * The contract check in the test server's client: `NodeHttpServer.layerTest` whose `HttpClient` (and so the
 * typed `HttpApiClient` and every raw request of the tests) checks each response with `Contract.ts`; a
 * response the document does not describe fails the request that got it (a defect, which no `Effect.flip`
 * or `Effect.either` of an expected error swallows).
 */
import { HttpClient, HttpClientError, type HttpClientResponse, UrlParams } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer, Stream } from "effect"
import { ContractViolation, verdictFor } from "./Contract.js"

/**
 * The same response with its body already read: the contract check reads it, and the node client's body is a
 * stream that can be read only once (`HttpApiClient` reads `arrayBuffer`, raw tests `json` or `text`).
 */
const withBody = (response: HttpClientResponse.HttpClientResponse, bytes: Uint8Array, text: string) => {
  const self: HttpClientResponse.HttpClientResponse = Object.create(response, {
    arrayBuffer: { get: () => Effect.succeed(bytes.slice().buffer) },
    text: { get: () => Effect.succeed(text) },
    json: {
      get: () =>
        Effect.try({
          try: () => (text === "" ? null : (JSON.parse(text) as unknown)),
          catch: (cause) =>
            new HttpClientError.ResponseError({ request: response.request, response: self, reason: "Decode", cause })
        })
    },
    urlParamsBody: { get: () => Effect.succeed(UrlParams.fromInput(new URLSearchParams(text))) },
    stream: { get: () => Stream.succeed(bytes) }
  })
  return self
}

/** How many responses the contract check has seen in this test file (to show that it runs). */
export const contractChecks = { count: 0 }

/** Dies with a `ContractViolation` when the response is not one the OpenAPI document describes. */
export const checkContract =
  (rootPath: string) =>
  (response: HttpClientResponse.HttpClientResponse): Effect.Effect<HttpClientResponse.HttpClientResponse> =>
    Effect.gen(function* () {
      contractChecks.count++
      const observed = {
        method: response.request.method,
        url: response.request.url,
        status: response.status,
        headers: response.headers
      }
      const verdict = verdictFor(observed, rootPath)
      if (verdict._tag === "Done") {
        if (verdict.violations.length > 0) return yield* Effect.die(new ContractViolation(verdict.violations))
        return response
      }
      const bytes = new Uint8Array(yield* Effect.orDie(response.arrayBuffer))
      const text = new TextDecoder().decode(bytes)
      const violations = verdict.check(text)
      if (violations.length > 0) return yield* Effect.die(new ContractViolation(violations))
      return withBody(response, bytes, text)
    })

/** `NodeHttpServer.layerTest` whose client checks every response against the document. */
export const layerTestChecked = (rootPath: string) =>
  Layer.provideMerge(
    Layer.effect(
      HttpClient.HttpClient,
      Effect.map(HttpClient.HttpClient, HttpClient.transformResponse(Effect.flatMap(checkContract(rootPath))))
    ),
    NodeHttpServer.layerTest
  )

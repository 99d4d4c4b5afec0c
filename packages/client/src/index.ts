/**
 * `@shum/client`: a typed client of the Shum Booking API for TypeScript, on `openapi-fetch`, its types
 * generated from the API's OpenAPI document (`npm run client:generate`; see `generated/schema.ts`).
 *
 * ```ts
 * const api = createShumClient({ baseUrl: "https://example.com/apps/shum-booking" })
 * const { data: token } = await api.POST("/auth/login", { body: { email, password } })
 * const signedIn = createShumClient({ baseUrl, accessToken: token!.access_token })
 * const { data: hotels } = await signedIn.GET("/hotels", { params: { query: { city: "Москва" } } })
 * ```
 * Paths, parameters, bodies and every documented answer (errors as problem documents) are typed; `data` is
 * set for a 2xx answer, `error` otherwise.
 */
import createClient, { type Client, type ClientOptions } from "openapi-fetch"
import type { components, operations, paths } from "./generated/schema.js"

export type { components, operations, paths }

/** Every model and error document of the API, by name (`Schemas["Hotel"]`, `Schemas["NotFound"]`, …). */
export type Schemas = components["schemas"]

export type ShumClient = Client<paths>

export interface ShumClientOptions extends ClientOptions {
  /** Where the API is: the server's origin, plus its `ROOT_PATH` behind a proxy. */
  readonly baseUrl: string
  /** An access token from `/auth/login` or `/auth/refresh`, sent as `Authorization: Bearer`. */
  readonly accessToken?: string
}

export const createShumClient = ({ accessToken, ...options }: ShumClientOptions): ShumClient => {
  const client = createClient<paths>(options)
  if (accessToken !== undefined) {
    client.use({
      onRequest: ({ request }) => {
        request.headers.set("Authorization", `Bearer ${accessToken}`)
        return request
      }
    })
  }
  return client
}

/**
 * Headers in the OpenAPI document: those the middlewares add to every operation's answers (a step of
 * `finishDocument`), and per-endpoint transforms (`.annotate(OpenApi.Transform, …)`) for what `HttpApi` has
 * no annotation for: the ETag and 304 of a catalogue read, the cookie of sign-in.
 */
type Json = Record<string, unknown>

const responsesOfEveryOperation = (spec: Json): Array<[status: string, response: Json]> =>
  Object.values((spec["paths"] ?? {}) as Record<string, Record<string, Json>>)
    .flatMap((item) => Object.values(item))
    .flatMap((operation) => Object.entries((operation["responses"] ?? {}) as Record<string, Json>))

const UNAUTHORIZED_REF = '"#/components/schemas/Unauthorized"'

const header = (description: string, schema: Json = { type: "string" }): Json => ({ description, schema })
const integer = { type: "integer", minimum: 0 }

const RATE_LIMIT_HEADERS = {
  "Retry-After": header("Seconds to wait before retrying.", { type: "integer", minimum: 1 }),
  "RateLimit-Limit": header("Requests allowed in the window (the tighter of the general and auth limits).", integer),
  "RateLimit-Remaining": header("Requests left in the current window.", integer),
  "RateLimit-Reset": header("Seconds until the window frees a request.", integer)
}

const RETRY_AFTER_503 = {
  "Retry-After": header("Seconds to wait before retrying: the dependency is expected back soon.", {
    type: "integer",
    minimum: 1
  })
}

/**
 * docs/api.md §1.5: a query parameter the operation does not declare is ignored, as the original ignored it,
 * and named in this header of the answer, whatever its status (the server's `Http/UnknownParams.ts`).
 */
const UNKNOWN_PARAMS_WARNING = header(
  "Present when the request had query parameters this operation does not declare: they were ignored (as the " +
    'original service ignored them) and are named here, percent-encoded, e.g. `299 - "unknown query parameter ' +
    'ignored: colour"`. Clients may ignore it; it is meant for the developer who sent them.',
  { type: "string", pattern: '^299 - "unknown query parameters? ignored: [^"]*"$' }
)

/**
 * `WWW-Authenticate` on the token check's 401; `Retry-After` and `RateLimit-*` on 429 (D4); `Retry-After` on
 * every 503 (a dependency unavailable); `Warning` for unknown query parameters on every answer.
 */
export const addMiddlewareHeaders = (spec: Json): Json => {
  for (const [status, response] of responsesOfEveryOperation(spec)) {
    response["headers"] = { ...(response["headers"] as Json), Warning: UNKNOWN_PARAMS_WARNING }
    if (status === "429") response["headers"] = { ...RATE_LIMIT_HEADERS, ...(response["headers"] as Json) }
    if (status === "503") response["headers"] = { ...RETRY_AFTER_503, ...(response["headers"] as Json) }
    if (status === "401" && JSON.stringify(response["content"] ?? {}).includes(UNAUTHORIZED_REF)) {
      response["headers"] = {
        "WWW-Authenticate": header("`Bearer`: when the access token was missing or not valid.", {
          type: "string",
          enum: ["Bearer"]
        }),
        ...(response["headers"] as Json)
      }
    }
  }
  return spec
}

// --- per endpoint ----------------------------------------------------------------------------------

const VALIDATORS = {
  ETag: header("A strong validator of this body; send it back in `If-None-Match` to revalidate.", {
    type: "string",
    examples: ['"Yx2Qp5l0y1tJvA8mS3kqH4cZ7dE"']
  }),
  "Cache-Control": header("`no-cache`: a client may keep the body but must revalidate it on every use.", {
    type: "string",
    enum: ["no-cache"]
  })
}

/**
 * D7: a catalogue read carries a strong `ETag` and answers 304 (no body) to a matching `If-None-Match`.
 * The server's `Http/Etag.ts` decides which reads do; a server test checks that it and these agree.
 */
export const conditionalRead = (operation: Json): Json => {
  const parameters = (operation["parameters"] ?? []) as Array<Json>
  const responses = (operation["responses"] ?? {}) as Record<string, Json>
  operation["parameters"] = [
    ...parameters,
    {
      name: "If-None-Match",
      in: "header",
      required: false,
      description: "The `ETag` of a copy the client holds: when it is still current the answer is 304 without a body.",
      schema: { type: "string" }
    }
  ]
  responses["200"] = { ...responses["200"], headers: VALIDATORS }
  responses["304"] = {
    description: "Not Modified: the copy named in `If-None-Match` is current (no body).",
    headers: VALIDATORS
  }
  return operation
}

/** Sign-in and refresh set the `access_token` cookie (docs/api.md §4.1); sign-out deletes it (`Max-Age=0`). */
export const setsAccessCookie = (operation: Json): Json => {
  const responses = (operation["responses"] ?? {}) as Record<string, Json>
  const ok = Object.entries(responses).find(([status]) => status.startsWith("2"))
  if (ok !== undefined) {
    ok[1]["headers"] = {
      "Set-Cookie": header(
        "`access_token=<JWT>; Max-Age=<JWT_ACCESS_TOKEN_EXPIRE_MINUTES × 60>; Path=/; HttpOnly; SameSite=Lax` " +
          "(`Secure` with `JWT_COOKIE_SECURE`); on sign-out the same cookie, empty, with `Max-Age=0`."
      ),
      ...(ok[1]["headers"] as Json)
    }
  }
  return operation
}

/**
 * docs/decisions.md D15: a create's success carries `Location`, the new resource's path (`template` with its
 * `{…}` filled), after `ROOT_PATH` when the service has one: a path the client can call as it is, through
 * the proxy or directly (the service also answers prefixed paths). The pattern lets the contract check in
 * the server tests verify the value.
 */
export const locatesCreated =
  (template: string) =>
  (operation: Json): Json => {
    const responses = (operation["responses"] ?? {}) as Record<string, Json>
    const ok = Object.entries(responses).find(([status]) => status.startsWith("2"))
    if (ok !== undefined) {
      const pattern = `^(/[^/?#]+)*${template.replace(/\{[^}]+\}/g, "[0-9]+")}$`
      ok[1]["headers"] = {
        Location: {
          description:
            `The new resource's path, \`${template}\`, after \`ROOT_PATH\` when the service has one ` +
            "(e.g. `/apps/shum-booking" +
            template.replace(/\{[^}]+\}/g, "1") +
            "`): `GET` it to read what was created.",
          required: true,
          schema: { type: "string", pattern, examples: [template.replace(/\{[^}]+\}/g, "1")] }
        },
        ...(ok[1]["headers"] as Json)
      }
    }
    return operation
  }

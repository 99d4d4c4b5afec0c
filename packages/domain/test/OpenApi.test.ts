import { HttpApi, OpenApi } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import { API_TITLE, API_VERSION, ShumApi } from "../src/Api.js"
import { AdminAuthentication, Authentication, DeferredAuthentication } from "../src/Security.js"

type Access = "anonymous" | "user" | "admin"

/** docs/api.md §13, in order, with who may call it (docs/decisions.md D1; `GET /bookings/{id}`: D15). */
/** The endpoints whose write checks the caller's session itself (docs/decisions.md D13). */
const SESSION_IN_WRITE = new Set(["POST /bookings", "POST /holds", "POST /holds/{hold_id}/confirm"])

const INVENTORY: ReadonlyArray<readonly [method: string, path: string, access: Access]> = [
  ["get", "/health", "anonymous"],
  ["get", "/health/detailed", "anonymous"],
  ["get", "/live", "anonymous"],
  ["get", "/ready", "anonymous"],
  ["get", "/metrics", "anonymous"],
  ["post", "/auth/register", "anonymous"],
  ["post", "/auth/login", "anonymous"],
  ["get", "/auth/me", "user"],
  ["post", "/auth/refresh", "anonymous"],
  ["post", "/auth/logout", "user"],
  ["get", "/users", "admin"],
  ["get", "/users/{user_id}", "user"],
  ["put", "/users/{user_id}", "user"],
  ["patch", "/users/{user_id}", "user"],
  ["delete", "/users/{user_id}", "user"],
  ["get", "/hotels", "anonymous"],
  ["get", "/hotels/rooms/available", "anonymous"],
  ["get", "/hotels/{hotel_id}", "anonymous"],
  ["post", "/hotels", "admin"],
  ["put", "/hotels/{hotel_id}", "admin"],
  ["patch", "/hotels/{hotel_id}", "admin"],
  ["delete", "/hotels/{hotel_id}", "admin"],
  ["get", "/hotels/{hotel_id}/rooms", "anonymous"],
  ["get", "/hotels/{hotel_id}/rooms/available", "anonymous"],
  ["get", "/hotels/{hotel_id}/rooms/{room_id}", "anonymous"],
  ["post", "/hotels/{hotel_id}/rooms", "admin"],
  ["put", "/hotels/{hotel_id}/rooms/{room_id}", "admin"],
  ["patch", "/hotels/{hotel_id}/rooms/{room_id}", "admin"],
  ["delete", "/hotels/{hotel_id}/rooms/{room_id}", "admin"],
  ["get", "/bookings", "admin"],
  ["get", "/bookings/me", "user"],
  ["post", "/bookings", "user"],
  ["get", "/bookings/{booking_id}", "user"],
  ["delete", "/bookings/{booking_id}", "user"],
  ["post", "/bookings/{booking_id}/cancel", "user"],
  ["post", "/bookings/{booking_id}/change-dates", "user"],
  ["get", "/facilities", "anonymous"],
  ["get", "/facilities/{facility_id}", "anonymous"],
  ["post", "/facilities", "admin"],
  ["delete", "/facilities/{facility_id}", "admin"],
  ["post", "/images/upload/{hotel_id}", "admin"],
  ["get", "/images/hotel/{hotel_id}", "anonymous"],
  ["delete", "/images/{image_id}", "admin"],
  ["get", "/countries", "anonymous"],
  ["get", "/countries/{country_id}", "anonymous"],
  ["post", "/countries", "admin"],
  ["put", "/countries/{country_id}", "admin"],
  ["patch", "/countries/{country_id}", "admin"],
  ["delete", "/countries/{country_id}", "admin"],
  ["get", "/cities", "anonymous"],
  ["get", "/cities/{city_id}", "anonymous"],
  ["post", "/cities", "admin"],
  ["put", "/cities/{city_id}", "admin"],
  ["patch", "/cities/{city_id}", "admin"],
  ["delete", "/cities/{city_id}", "admin"],
  ["post", "/webhooks", "admin"],
  ["get", "/webhooks", "admin"],
  ["get", "/webhooks/{webhook_id}", "admin"],
  ["patch", "/webhooks/{webhook_id}", "admin"],
  ["delete", "/webhooks/{webhook_id}", "admin"],
  ["post", "/webhooks/{webhook_id}/rotate-secret", "admin"],
  ["post", "/webhooks/{webhook_id}/ping", "admin"],
  ["get", "/webhooks/{webhook_id}/deliveries", "admin"],
  ["post", "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", "admin"],
  ["post", "/holds", "user"],
  ["get", "/holds/{hold_id}", "user"],
  ["post", "/holds/{hold_id}/confirm", "user"],
  ["delete", "/holds/{hold_id}", "user"],
  ["get", "/audit", "admin"]
]

const TAGS = [
  "Система",
  "Аутентификация",
  "Пользователи",
  "Отели",
  "Номера",
  "Бронирования",
  "Удобства",
  "Изображения отелей",
  "Страны",
  "Города",
  "Вебхуки",
  "Удержания",
  "Аудит"
]

const spec = OpenApi.fromApi(ShumApi)
const key = (method: string, path: string) => `${method.toUpperCase()} ${path}`
const operations = Object.entries(spec.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, operation]) => ({ key: key(method, path), path, operation }))
)
const operation = (method: string, path: string) => {
  const found = operations.find((op) => op.key === key(method, path))
  assert.isDefined(found, key(method, path))
  return found!.operation
}

/** Response headers are added by `finishDocument`; effect's OpenAPI types do not know them. */
const headersOf = (response: unknown): Array<string> => Object.keys((response as { headers?: object }).headers ?? {})

/** What each endpoint declares, read from the API itself rather than from the document. */
const reflected = new Map<string, { readonly middlewares: ReadonlySet<unknown>; readonly takesInput: boolean }>()
HttpApi.reflect(ShumApi, {
  onGroup: () => {},
  onEndpoint: ({ endpoint, middleware }) => {
    const schemas = [endpoint.pathSchema, endpoint.urlParamsSchema, endpoint.payloadSchema, endpoint.headersSchema]
    reflected.set(key(endpoint.method, endpoint.path.replace(/:(\w+)/g, "{$1}")), {
      middlewares: middleware,
      takesInput: schemas.some(Option.isSome)
    })
  }
})

describe("OpenAPI document", () => {
  it("has the title and version of the original", () => {
    assert.strictEqual(spec.info.title, "Shum Booking API")
    assert.strictEqual(spec.info.version, "1.0.3")
    assert.strictEqual(API_TITLE, spec.info.title)
    assert.strictEqual(API_VERSION, spec.info.version)
  })

  it("has exactly the 69 operations of docs/api.md §13, system first, then in registration order", () => {
    assert.strictEqual(INVENTORY.length, 69)
    // The document groups operations by path (first appearance), each path's methods in registration order.
    const paths = [...new Set(INVENTORY.map(([, path]) => path))]
    const expected = paths.flatMap((path) =>
      INVENTORY.filter(([, p]) => p === path).map(([method]) => key(method, path))
    )
    assert.deepStrictEqual(
      operations.map((op) => op.key),
      expected
    )
    assert.deepStrictEqual(Object.keys(spec.paths), paths)
  })

  it("names this server in `servers` (the server replaces it by ROOT_PATH when there is one)", () => {
    assert.deepStrictEqual(spec.servers, [{ url: "/", description: "This server" }])
  })

  it(`has the ${TAGS.length} tags of docs/api.md §6.6, in order, each with a description`, () => {
    assert.deepStrictEqual(
      spec.tags.map((tag) => tag.name),
      TAGS
    )
    for (const tag of spec.tags) assert.isNotEmpty(tag.description ?? "", tag.name)
  })

  it("gives every operation a summary, a description, a unique operationId and one tag", () => {
    const ids = new Set<string>()
    for (const { key, operation } of operations) {
      assert.isNotEmpty(operation.summary ?? "", `${key}: summary`)
      assert.isNotEmpty(operation.description ?? "", `${key}: description`)
      // camelCase, verb first (`listHotels`, `cancelBooking`): what generators turn into method names as is
      assert.match(operation.operationId, /^[a-z]+[A-Z][A-Za-z]*$|^(register|login|logout)$/, key)
      ids.add(operation.operationId)
      assert.strictEqual(operation.tags.length, 1, key)
    }
    assert.strictEqual(ids.size, 69)
  })

  it("asks for credentials on exactly the protected operations (D1)", () => {
    for (const [method, path, access] of INVENTORY) {
      const op = operation(method, path)
      const middlewares = reflected.get(key(method, path))!.middlewares
      const responses = Object.keys(op.responses)
      if (access === "anonymous") {
        assert.deepStrictEqual(op.security, [], key(method, path))
        assert.strictEqual(middlewares.size, 0, key(method, path))
        // login and refresh answer 401 for bad credentials, but never the token check's `Unauthorized`
        assert.notInclude(JSON.stringify(op.responses["401"] ?? {}), "schemas/Unauthorized", key(method, path))
      } else {
        assert.deepStrictEqual(op.security, [{ bearer: [] }, { cookie: [] }], key(method, path))
        // a signed-in user either way; the writes that check the session in their own statement say so (D13)
        const expected =
          access === "admin"
            ? AdminAuthentication
            : SESSION_IN_WRITE.has(key(method, path))
              ? DeferredAuthentication
              : Authentication
        assert.deepStrictEqual([...middlewares], [expected], key(method, path))
        assert.include(JSON.stringify(op.responses["401"] ?? {}), "schemas/Unauthorized", key(method, path))
      }
      if (access === "admin") assert.include(responses, "403", key(method, path))
    }
    assert.deepStrictEqual(spec.security, [])
    assert.deepStrictEqual(Object.keys(spec.components.securitySchemes), ["bearer", "cookie"])
  })

  it("declares 422 exactly where a path, query, header or body is decoded", () => {
    for (const [method, path] of INVENTORY) {
      const { takesInput } = reflected.get(key(method, path))!
      const responses = operation(method, path).responses
      assert.strictEqual("422" in responses, takesInput, key(method, path))
    }
  })

  it("keeps no trace of HttpApiDecodeError, and the endpoints' own 400s", () => {
    assert.notInclude(JSON.stringify(spec), "HttpApiDecodeError")
    for (const [method, path] of [
      ["get", "/hotels/rooms/available"],
      ["get", "/hotels/{hotel_id}/rooms/available"],
      ["post", "/bookings"],
      ["post", "/images/upload/{hotel_id}"],
      ["put", "/hotels/{hotel_id}/rooms/{room_id}"]
    ] as const) {
      assert.include(Object.keys(operation(method, path).responses["400"]?.content ?? {}), "application/problem+json")
    }
  })

  it("documents sold out as 409 and the 202 of a slow upload", () => {
    const booking = operation("post", "/bookings").responses
    assert.include(JSON.stringify(booking["409"]), "#/components/schemas/RoomUnavailable")
    const upload = operation("post", "/images/upload/{hotel_id}").responses
    assert.include(JSON.stringify(upload["200"]), "#/components/schemas/ImageUpload")
    assert.include(JSON.stringify(upload["202"]), "#/components/schemas/ImageProcessing")
    assert.strictEqual(operation("post", "/auth/register").responses["201"] !== undefined, true)
  })

  it("serves every error as application/problem+json except /ready's own 503", () => {
    for (const { key, operation } of operations) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) < 400) continue
        assert.include(Object.keys(response.content ?? {}), "application/problem+json", `${key} ${status}`)
      }
    }
  })

  it("documents path ids and id filters as int32, pagination as integers, and the Idempotency-Key header", () => {
    const params = operation("get", "/hotels/{hotel_id}/rooms").parameters
    assert.deepInclude(params, {
      name: "hotel_id",
      in: "path",
      required: true,
      schema: { type: "integer", format: "int32", description: "an integer id" },
      description: "an integer id"
    })
    const cityId = operation("get", "/hotels").parameters.find((p) => p.name === "city_id")
    assert.deepInclude(cityId?.schema ?? {}, { type: "integer", format: "int32" })
    const perPage = params.find((p) => p.name === "per_page")
    assert.deepInclude(perPage?.schema ?? {}, { type: "integer", minimum: 1, maximum: 20 })
    const header = operation("post", "/bookings").parameters.find((p) => p.in === "header")
    assert.strictEqual(header?.name, "idempotency-key")
    assert.strictEqual(header?.required, false)
  })

  it("lets request bodies carry unknown fields (ignored, docs/api.md §1.2) while responses stay closed", () => {
    const schemas = spec.components.schemas as Record<string, { additionalProperties?: unknown }>
    for (const name of ["UserRegister", "UserUpdate", "HotelIn", "RoomPatch", "BookingIn", "CityPatch"]) {
      assert.isUndefined(schemas[name]?.additionalProperties, name)
    }
    for (const name of ["User", "Hotel", "Room", "Booking"]) assert.isFalse(schemas[name]?.additionalProperties, name)
  })

  it("gives every model and error schema examples", () => {
    const schemas = spec.components.schemas as Record<string, { examples?: ReadonlyArray<unknown> }>
    const models = ["User", "Token", "Country", "City", "Facility", "Hotel", "HotelWithRooms", "Room"]
      .concat(["AvailableRoom", "Booking", "Image", "ImageUpload", "ImageProcessing", "Message"])
      .concat(["UserRegister", "UserLogin", "RefreshRequest", "UserUpdate", "UserPatch", "CountryIn"])
      .concat(["CountryPatch", "CityIn", "CityPatch", "FacilityIn", "HotelIn", "HotelPatch", "RoomIn"])
      .concat(["RoomPatch", "BookingIn", "NotFound", "ValidationError", "RateLimited", "Conflict"])
    for (const name of models) assert.isNotEmpty(schemas[name]?.examples ?? [], name)
  })

  it("gives every request and response body media-type examples (a multipart file excepted)", () => {
    for (const { key, operation } of operations) {
      const bodies = [
        ["request", operation.requestBody?.content ?? {}] as const,
        ...Object.entries(operation.responses).map(([status, response]) => [status, response.content ?? {}] as const)
      ]
      for (const [where, content] of bodies) {
        for (const [type, media] of Object.entries(content)) {
          if (type === "multipart/form-data") continue
          const examples = (media as { examples?: Record<string, { value?: unknown }> }).examples ?? {}
          assert.isNotEmpty(Object.keys(examples), `${key} ${where} ${type}`)
          for (const example of Object.values(examples)) assert.isDefined(example.value, `${key} ${where}`)
        }
      }
    }
  })

  it("lists one example per error where several share a status", () => {
    const content = operation("post", "/bookings").responses["409"]!.content as Record<string, unknown>
    const conflict = content["application/problem+json"] as {
      examples: Record<string, { summary: string; value: { type: string } }>
    }
    assert.deepStrictEqual(Object.keys(conflict.examples), ["RoomUnavailable", "Conflict", "IntegrityViolation"])
    assert.strictEqual(conflict.examples["RoomUnavailable"]!.value.type, "/problems/room-unavailable")
  })

  it("documents the ETag and 304 of the catalogue reads (D7), and only there", () => {
    const cached = new Set(
      [
        "/countries",
        "/countries/{country_id}",
        "/cities",
        "/cities/{city_id}",
        "/facilities",
        "/facilities/{facility_id}",
        "/hotels",
        "/hotels/{hotel_id}",
        "/hotels/{hotel_id}/rooms",
        "/hotels/{hotel_id}/rooms/{room_id}"
      ].map((path) => key("get", path))
    )
    for (const { key, operation } of operations) {
      assert.strictEqual("304" in operation.responses, cached.has(key), key)
      const ifNoneMatch = operation.parameters.some((p) => p.name === "If-None-Match" && p.in === "header")
      assert.strictEqual(ifNoneMatch, cached.has(key), key)
      if (cached.has(key)) {
        assert.isUndefined(operation.responses["304"]!.content, key)
        assert.sameMembers(headersOf(operation.responses["200"]), ["ETag", "Cache-Control", "Warning"], key)
      }
    }
  })

  it("documents Location on the success of exactly the creates, with the new resource's path (D15)", () => {
    const creates: Record<string, string> = {
      "POST /auth/register": "/users/1",
      "POST /hotels": "/hotels/1",
      "POST /hotels/{hotel_id}/rooms": "/hotels/1/rooms/1",
      "POST /bookings": "/bookings/1",
      "POST /facilities": "/facilities/1",
      "POST /countries": "/countries/1",
      "POST /cities": "/cities/1",
      "POST /webhooks": "/webhooks/1",
      "POST /holds": "/holds/1",
      // a confirm makes a booking
      "POST /holds/{hold_id}/confirm": "/bookings/1"
    }
    for (const { key, operation } of operations) {
      const [status, ok] = Object.entries(operation.responses).find(([code]) => code.startsWith("2"))!
      const location = (ok as { headers?: Record<string, { required?: boolean; schema: { pattern: string } }> })
        .headers?.["Location"]
      if (!(key in creates)) {
        assert.isUndefined(location, key)
        continue
      }
      assert.strictEqual(location?.required, true, key)
      const pattern = new RegExp(location!.schema.pattern)
      assert.match(creates[key]!, pattern, key)
      assert.match(`/apps/shum-booking${creates[key]!}`, pattern, key)
      assert.notMatch("/somewhere/else/1", pattern, key)
      const body = JSON.stringify(ok)
      // the original's status; the new POST /webhooks and POST /holds answer 201 (the subscription, the hold)
      const fresh = key === "POST /auth/register" || key === "POST /webhooks" || key === "POST /holds"
      if (!fresh) assert.strictEqual(status, "200", key)
      const model: Record<string, string> = {
        "POST /bookings": "BookingCreated",
        "POST /auth/register": "User",
        "POST /webhooks": "WebhookCreated",
        "POST /holds": "Hold",
        "POST /holds/{hold_id}/confirm": "Booking"
      }
      assert.include(body, model[key] ?? "Created")
    }
  })

  it("documents the Warning of unknown query parameters on every answer of every operation", () => {
    for (const { key, operation } of operations) {
      for (const [status, response] of Object.entries(operation.responses)) {
        assert.include(headersOf(response), "Warning", `${key} ${status}`)
      }
    }
  })

  it("documents the headers of 429 and of the token check's 401, and the cookie of sign-in", () => {
    for (const { key, operation } of operations) {
      const limited = operation.responses["429"]
      if (limited) assert.includeMembers(headersOf(limited), ["Retry-After", "RateLimit-Reset"], key)
      const unauthorized = operation.responses["401"]
      if (unauthorized && JSON.stringify(unauthorized).includes('schemas/Unauthorized"')) {
        assert.include(headersOf(unauthorized), "WWW-Authenticate", key)
      }
    }
    for (const path of ["/auth/login", "/auth/refresh", "/auth/logout"]) {
      assert.include(headersOf(operation("post", path).responses["200"]), "Set-Cookie", path)
    }
  })

  it("has no schema ids of effect's keyword schemas (the same `$id` in several places is ambiguous)", () => {
    assert.notInclude(JSON.stringify(spec), '"$id"')
  })
})

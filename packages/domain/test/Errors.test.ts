import { HttpApiSchema } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { NotFound, ProblemContentType, Problems, RateLimited, RoomUnavailable, ValidationError } from "../src/Errors.js"
import { Messages } from "../src/Messages.js"

describe("problem documents (D9)", () => {
  it("encode to {type, title, status, detail} and decode back to the error class", () => {
    const error = new NotFound({ detail: Messages.hotelNotFound })
    const wire = Schema.encodeSync(NotFound)(error)
    assert.deepStrictEqual(wire, {
      type: "/problems/not-found",
      title: "Not Found",
      status: 404,
      detail: "Отель не найден"
    })
    const decoded = Schema.decodeUnknownSync(NotFound)(wire)
    assert.instanceOf(decoded, NotFound)
    assert.deepStrictEqual(decoded, error)
  })

  it("sold out is a 409 room-unavailable problem with the E-42 text", () => {
    const wire = Schema.encodeSync(RoomUnavailable)(new RoomUnavailable({ detail: Messages.roomSoldOut }))
    assert.deepStrictEqual(wire, {
      type: "/problems/room-unavailable",
      title: "Room unavailable",
      status: 409,
      detail: "Все номера данного типа уже забронированы на указанные даты"
    })
  })

  it("422 keeps the FastAPI list under detail", () => {
    const detail = [{ type: "missing", loc: ["body", "email"], msg: "Field required", input: {} }]
    const wire = Schema.encodeSync(ValidationError)(new ValidationError({ detail }))
    assert.deepStrictEqual(wire, {
      type: "/problems/validation-error",
      title: "Unprocessable Entity",
      status: 422,
      detail
    })
    assert.deepStrictEqual(Schema.decodeUnknownSync(ValidationError)(wire), new ValidationError({ detail }))
  })

  it("429 carries the same text under error and detail (D4)", () => {
    const text = Messages.rateLimitExceeded(5)
    const wire = Schema.encodeSync(RateLimited)(new RateLimited({ detail: text }))
    assert.deepStrictEqual(wire, {
      type: "/problems/rate-limited",
      title: "Too Many Requests",
      status: 429,
      error: text,
      detail: text
    })
  })

  it("every problem has a status and is served as application/problem+json", () => {
    for (const [name, schema] of Object.entries(Problems)) {
      assert.isAtLeast(HttpApiSchema.getStatusErrorAST(schema.ast), 400, name)
      assert.strictEqual(HttpApiSchema.getEncoding(schema.ast).contentType, ProblemContentType, name)
    }
  })
})

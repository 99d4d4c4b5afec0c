/**
 * The write statements' answers (`book_stay`, `hold_place`, `hold_confirm`: `jsonb`, whose keys PostgreSQL orders
 * by length) are made models without decoding them again (`Bookings/BookingsRepo.ts`, `Holds/HoldsRepo.ts`);
 * `HttpApi` encodes the response through the endpoint's schema. What that relies on: the encoding writes the
 * model's field order whatever the JSON's, byte for byte what decoding then encoding wrote, and refuses a wrong
 * field (a 500, never sent). `POST /bookings`, `POST /holds` and its confirm answer their models without that
 * encoding where every field is one the schema allows (`bookingCreatedResponse`, `holdCreatedResponse`,
 * `bookingResponse`): the same bytes, and anything else left to the encoding.
 */
import "./fakes/NoNetwork.js"
import { assert, describe, it } from "@effect/vitest"
import { Booking, BookingCreated } from "@shum/domain/Bookings"
import { Hold } from "@shum/domain/Holds"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Either, Schema } from "effect"
import { bookingCreatedResponse, bookingResponse } from "../../src/Bookings/BookingsHttp.js"
import { holdCreatedResponse } from "../../src/Holds/HoldsHttp.js"

// as `jsonb` orders them: by length, then bytes
const booking = {
  id: 12,
  price: 9000,
  status: "confirmed",
  room_id: 3,
  user_id: 7,
  date_to: "2027-01-13",
  date_from: "2027-01-10",
  created_at: "2026-12-07T10:15:30.123456Z"
}
const hold = {
  id: 5,
  price: 9000,
  status: "active",
  room_id: 3,
  user_id: 7,
  date_to: "2027-01-13",
  booking_id: null,
  created_at: "2026-12-07T10:15:30.123456Z",
  date_from: "2027-01-10",
  expires_at: "2026-12-07T10:25:30.123456Z"
}

const viaDecode = <A, I>(schema: Schema.Schema<A, I>, json: unknown) =>
  JSON.stringify(Schema.encodeSync(schema)(Schema.decodeUnknownSync(schema)(json)))
const asBuilt = <A, I>(schema: Schema.Schema<A, I>, value: A) => JSON.stringify(Schema.encodeSync(schema)(value))

describe("write answers made without decoding", () => {
  it("encode to the bytes of decode-then-encode, in the model's field order", () => {
    const created = { id: 12, status: "OK", booking }
    assert.strictEqual(
      asBuilt(
        BookingCreated,
        new BookingCreated({ ...created, booking: new Booking(booking as Booking, true) } as BookingCreated, true)
      ),
      viaDecode(BookingCreated, created)
    )
    assert.strictEqual(asBuilt(Booking, new Booking(booking as Booking, true)), viaDecode(Booking, booking))
    assert.strictEqual(asBuilt(Hold, new Hold(hold as unknown as Hold, true)), viaDecode(Hold, hold))
    assert.isTrue(asBuilt(Hold, new Hold(hold as unknown as Hold, true)).startsWith('{"id":5,"room_id":3,"user_id":7,'))
  })

  it("a wrong field fails the encoding", () => {
    for (const wrong of [{ price: 1.5 }, { date_from: "2027-02-30" }, { status: "bogus" }, { id: "12" }]) {
      const built = new Booking({ ...booking, ...wrong } as Booking, true)
      assert.isTrue(Either.isLeft(Schema.encodeEither(Booking)(built)), JSON.stringify(wrong))
    }
    const wrongHold = new Hold({ ...hold, booking_id: "x" } as unknown as Hold, true)
    assert.isTrue(Either.isLeft(Schema.encodeEither(Hold)(wrongHold)))
  })
})

const bodyOf = (response: HttpServerResponse.HttpServerResponse) =>
  response.body._tag === "Uint8Array" ? new TextDecoder().decode(response.body.body) : response.body._tag

/**
 * `answer` is a response as `HttpApi` answers the model: the bytes of `encoded` (the encoding's), which are
 * `expected` (what decoding the statement's JSON then encoding wrote), `status`, `application/json`.
 */
const assertAsEncoded = (
  answer: unknown,
  encoded: HttpServerResponse.HttpServerResponse,
  expected: string,
  status: number,
  label = ""
) => {
  assert.isTrue(HttpServerResponse.isServerResponse(answer), label)
  const written = answer as HttpServerResponse.HttpServerResponse
  assert.strictEqual(bodyOf(written), bodyOf(encoded), label)
  assert.strictEqual(bodyOf(written), expected, label)
  assert.strictEqual(written.status, status, label)
  assert.strictEqual(written.body._tag === "Uint8Array" ? written.body.contentType : "", "application/json", label)
}

describe("POST /bookings' answer written without the encoding", () => {
  const stay = { room_id: 3, date_from: "2027-01-10", date_to: "2027-01-13" }
  const built = (fields: Partial<typeof booking>) =>
    new BookingCreated(
      { id: 12, status: "OK", booking: new Booking({ ...booking, ...fields } as Booking, true) } as BookingCreated,
      true
    )

  it("is the encoding's bytes, 200, application/json", () => {
    const answer = built({})
    // what HttpApi answers for the model: the same status, type and body
    const encoded = HttpServerResponse.unsafeJson(Schema.encodeSync(BookingCreated)(answer))
    assert.strictEqual(encoded.status, 200)
    assert.strictEqual(bodyOf(encoded), asBuilt(BookingCreated, answer))
    assertAsEncoded(
      bookingCreatedResponse(answer, stay),
      encoded,
      viaDecode(BookingCreated, { id: 12, status: "OK", booking }),
      200
    )
  })

  it("leaves any other answer to the encoding (which refuses a wrong field)", () => {
    const wrongs: Array<Partial<typeof booking>> = [
      { price: 1.5 },
      { id: 2 ** 53 },
      { status: "bogus" },
      { date_from: "2027-02-30" },
      { date_to: "2027-01-14" },
      { room_id: 4 },
      { user_id: Number.NaN },
      { created_at: 5 as unknown as string }
    ]
    for (const wrong of wrongs) {
      const answer = built(wrong)
      assert.strictEqual(bookingCreatedResponse(answer, stay), answer, JSON.stringify(wrong))
    }
    const notOk = new BookingCreated({ ...built({}), id: 1.5 } as BookingCreated, true)
    assert.strictEqual(bookingCreatedResponse(notOk, stay), notOk)
  })
})

describe("POST /holds' and its confirm's answers written without the encoding", () => {
  const stay = { room_id: 3, date_from: "2027-01-10", date_to: "2027-01-13" }
  const builtHold = (fields: Record<string, unknown>) => new Hold({ ...hold, ...fields } as unknown as Hold, true)
  const builtBooking = (fields: Record<string, unknown>) => new Booking({ ...booking, ...fields } as Booking, true)

  // fields neither a hold nor a booking allows: each leaves the answer to the encoding
  const wrongOfEither: ReadonlyArray<Record<string, unknown>> = [
    { price: 1.5 },
    { id: 2 ** 53 },
    { status: "bogus" },
    { date_from: "2027-02-30" },
    { user_id: Number.NaN },
    { created_at: 5 }
  ]

  it("a hold: the encoding's bytes, 201, application/json", () => {
    for (const fields of [{}, { status: "confirmed", booking_id: 12 }, { status: "expired" }, { status: "released" }]) {
      const answer = builtHold(fields)
      const encoded = HttpServerResponse.unsafeJson(Schema.encodeSync(Hold)(answer), { status: 201 })
      const expected = viaDecode(Hold, { ...hold, ...fields })
      assertAsEncoded(holdCreatedResponse(answer, stay), encoded, expected, 201, JSON.stringify(fields))
    }
  })

  it("a hold with any other field is left to the encoding", () => {
    const wrongs: Array<Record<string, unknown>> = [
      ...wrongOfEither,
      { date_to: "2027-01-14" },
      { room_id: 4 },
      { expires_at: null },
      { booking_id: "x" },
      { booking_id: 0.5 }
    ]
    for (const wrong of wrongs) {
      const answer = builtHold(wrong)
      assert.strictEqual(holdCreatedResponse(answer, stay), answer, JSON.stringify(wrong))
    }
  })

  it("a confirm's booking: the encoding's bytes, 200, application/json", () => {
    for (const fields of [{}, { status: "cancelled" }, { date_from: "0001-01-01", date_to: "9999-12-31" }]) {
      const answer = builtBooking(fields)
      const encoded = HttpServerResponse.unsafeJson(Schema.encodeSync(Booking)(answer))
      const expected = viaDecode(Booking, { ...booking, ...fields })
      assertAsEncoded(bookingResponse(answer), encoded, expected, 200, JSON.stringify(fields))
    }
  })

  it("a confirm's booking with any other field is left to the encoding, which refuses it", () => {
    const wrongs: Array<Record<string, unknown>> = [
      ...wrongOfEither,
      { date_to: "2027-1-14" },
      { date_from: "0000-12-31" },
      { date_to: 20270114 },
      { room_id: "3" }
    ]
    for (const wrong of wrongs) {
      const answer = builtBooking(wrong)
      assert.strictEqual(bookingResponse(answer), answer, JSON.stringify(wrong))
      assert.isTrue(Either.isLeft(Schema.encodeEither(Booking)(answer)), JSON.stringify(wrong))
    }
  })
})

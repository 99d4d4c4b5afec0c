import { assert, describe, it } from "@effect/vitest"
import { Either, ParseResult, Schema } from "effect"
import { DateString, ExternalId, LaxInt, LaxInt32, LaxNonNegativeInt32, Text, TimeString } from "../src/Common.js"
import { Email } from "../src/Email.js"
import { CountryIn, CountryPatch } from "../src/Geo.js"
import { HotelPatch } from "../src/Hotels.js"
import { HotelsQuery, IdempotencyHeaders, PageQuery, UsersQuery } from "../src/Params.js"
import { RoomIn, RoomPatch } from "../src/Rooms.js"
import { UserLogin, UserPatch, UserRegister, UserUpdate } from "../src/Users.js"

const decode =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (input: unknown) =>
    Schema.decodeUnknownEither(schema)(input)

const ok = <A, I>(schema: Schema.Schema<A, I>, input: unknown): A => {
  const result = decode(schema)(input)
  if (Either.isLeft(result))
    assert.fail(`${JSON.stringify(input)}: ${ParseResult.TreeFormatter.formatErrorSync(result.left)}`)
  return result.right
}

const rejected = <A, I>(schema: Schema.Schema<A, I>, input: unknown): string => {
  const result = decode(schema)(input)
  if (Either.isRight(result)) return assert.fail(`${JSON.stringify(input)} should be rejected`)
  return ParseResult.TreeFormatter.formatErrorSync(result.left)
}

describe("Email (docs/api.md §4.2)", () => {
  it("trims, reduces the display form and lower-cases only the domain", () => {
    assert.strictEqual(ok(Email, "  Ivan.Petrov@Example.COM \n"), "Ivan.Petrov@example.com")
    assert.strictEqual(ok(Email, "Иван Петров <Ivan@EXAMPLE.com>"), "Ivan@example.com")
    assert.strictEqual(ok(Email, '"Petrov, Ivan" <ivan@example.com>'), "ivan@example.com")
    assert.strictEqual(ok(Email, "<ivan@example.com>"), "ivan@example.com")
    assert.strictEqual(ok(Email, "ivan+tag@mail.example.org"), "ivan+tag@mail.example.org")
    assert.strictEqual(ok(Email, "ivan@ПРИМЕР.РФ"), "ivan@пример.рф")
    assert.strictEqual(ok(Email, `a@${"b".repeat(63)}.com`), `a@${"b".repeat(63)}.com`)
  })

  it("rejects the forms listed in docs/api.md §4.2, with email-validator's reasons", () => {
    const bad = [
      "",
      "plainaddress",
      "@example.com",
      "ivan@",
      "iv an@example.com",
      "ivan@domain",
      "ivan@.example.com",
      "ivan@example..com",
      "ivan@example.com.",
      ".ivan@example.com",
      "ivan.@example.com",
      "ivan@@example.com",
      "a@b@example.com",
      `ivan@${"b".repeat(64)}.com`,
      "ivan@under_score.com",
      "ivan@[127.0.0.1]"
    ]
    for (const input of bad) assert.include(rejected(Email, input), "value is not a valid email address: ", input)
    assert.include(rejected(Email, "ivan@domain"), "It should have a period.")
    assert.include(rejected(Email, "iv an@example.com"), "invalid characters before the @-sign: SPACE")
  })

  it("rejects special-use domains but accepts example.com", () => {
    for (const domain of [
      "in-addr.arpa",
      "x.invalid",
      "host.local",
      "localhost",
      "a.localhost",
      "x.onion",
      "example.test"
    ]) {
      assert.include(rejected(Email, `ivan@${domain}`), "value is not a valid email address", domain)
    }
    assert.strictEqual(ok(Email, "ivan@example.com"), "ivan@example.com")
  })

  it("rejects more than 255 characters as sent", () => {
    assert.include(rejected(Email, `${"a".repeat(60)}@${"b".repeat(200)}.com`), "at most 255")
  })
})

describe("Common schemas", () => {
  it("LaxInt accepts integers, integral floats and numeric strings only", () => {
    for (const input of [5, 5.0, "5", "-3"]) assert.strictEqual(Math.abs(ok(LaxInt, input)), input === "-3" ? 3 : 5)
    for (const input of [5.5, "5.5", "abc", "", null, true, [5]]) rejected(LaxInt, input)
    // blanks around, as Pydantic trims them (Unicode's White_Space): NEL is one, a byte-order mark is not (JavaScript's
    // trim() says the opposite of both), nor is U+001C (Python's str.strip() drops it, Pydantic refuses it)
    for (const input of [" 5", "5\n", "\t+5 ", "\u00a05\u3000", "\u00855", "5\u0085"]) {
      assert.strictEqual(ok(LaxInt, input), 5)
    }
    for (const input of ["\uFEFF5", "5\uFEFF", "\u200b5", "\u001c5", " ", "\u0085"]) rejected(LaxInt, input)
  })

  it("TimeString accepts HH:MM, HH:MM:SS and fractions, and renders HH:MM:SS", () => {
    assert.strictEqual(ok(TimeString, "14:00"), "14:00:00")
    assert.strictEqual(ok(TimeString, "09:30:15"), "09:30:15")
    assert.strictEqual(ok(TimeString, "14:00:00.000000"), "14:00:00")
    assert.isTrue(ok(TimeString, "14:00:00.25").startsWith("14:00:00.25"))
    for (const input of ["24:00", "1:00", "14:60", "14:00:00Z", ""]) rejected(TimeString, input)
    assert.strictEqual(Schema.encodeSync(TimeString)("12:00:00"), "12:00:00")
  })

  it("DateString accepts real calendar dates only", () => {
    assert.strictEqual(ok(DateString, "2024-02-29"), "2024-02-29")
    for (const input of ["2026-02-30", "2025-02-29", "2026-13-01", "2026-2-1", "2026-02-01T00:00:00"]) {
      rejected(DateString, input)
    }
  })
})

describe("request bodies", () => {
  const user = { email: "ivan@example.com" }

  it("counts password length in characters (8..72) and bytes (at most 72 in UTF-8, all bcrypt reads)", () => {
    ok(UserRegister, { ...user, password: "я".repeat(36) }) // 72 bytes
    rejected(UserRegister, { ...user, password: "я".repeat(37) }) // 37 characters, 74 bytes
    rejected(UserRegister, { ...user, password: "я".repeat(72) }) // 144 bytes: its first 36 would open it
    ok(UserRegister, { ...user, password: "😀".repeat(18) }) // 18 characters (36 UTF-16 units), 72 bytes
    rejected(UserRegister, { ...user, password: "😀".repeat(19) })
    ok(UserRegister, { ...user, password: "x".repeat(72) })
    rejected(UserRegister, { ...user, password: "x".repeat(73) })
    rejected(UserRegister, { ...user, password: "😀".repeat(4) })
    rejected(UserLogin, { ...user, password: "1234567" })
    ok(UserLogin, { ...user, password: "12345678" })
  })

  it("register: optional profile fields may be absent or null; extra fields are ignored", () => {
    const registered = ok(UserRegister, { ...user, password: "s3cret-pass", first_name: null, extra: 1 })
    assert.isNull(registered.first_name)
    assert.isFalse("last_name" in registered)
    assert.isFalse("extra" in registered)
    assert.strictEqual(ok(UserRegister, { ...user, password: "s3cret-pass", telegram_id: "42" }).telegram_id, 42)
    rejected(UserRegister, { ...user, password: "s3cret-pass", first_name: "я".repeat(101) })
  })

  it("PUT and PATCH of a user refuse hashed_password (D1)", () => {
    for (const value of ["$2b$12$abc", null, ""]) {
      assert.include(rejected(UserUpdate, { ...user, hashed_password: value }), "hashed_password")
      assert.include(rejected(UserPatch, { hashed_password: value }), "hashed_password")
    }
    assert.strictEqual(ok(UserUpdate, { ...user, password: "new-s3cret" }).password, "new-s3cret")
  })

  it("PUT of a user: email required, null elsewhere means unchanged", () => {
    rejected(UserUpdate, { first_name: "Иван" })
    rejected(UserUpdate, { email: null })
    const update = ok(UserUpdate, { ...user, first_name: null, role: null })
    assert.isNull(update.first_name)
    assert.isNull(update.role)
  })

  it("PATCH of a user keeps absent and null apart; null for a NOT NULL field is a 422 (D9)", () => {
    assert.deepStrictEqual({ ...ok(UserPatch, {}) }, {})
    const patch = ok(UserPatch, { first_name: null })
    assert.isTrue("first_name" in patch)
    assert.isNull(patch.first_name)
    assert.isFalse("last_name" in patch)
    for (const field of ["email", "password", "role"]) rejected(UserPatch, { [field]: null })
  })

  it("PATCH of a room: null clears the description, null title/price/quantity is a 422", () => {
    assert.isNull(ok(RoomPatch, { description: null }).description)
    for (const field of ["title", "price", "quantity"]) rejected(RoomPatch, { [field]: null })
    assert.strictEqual(ok(RoomPatch, { price: "3500", facility_ids: null }).price, 3500)
    rejected(RoomPatch, { quantity: -1 })
  })

  it("PATCH of a hotel and a country accepts null as 'leave unchanged'", () => {
    const hotel = ok(HotelPatch, { title: null, check_in_time: "15:00" })
    assert.isNull(hotel.title)
    assert.strictEqual(hotel.check_in_time, "15:00:00")
    assert.isFalse("city" in hotel)
    assert.isNull(ok(CountryPatch, { name: null }).name)
    rejected(HotelPatch, { postal_code: "1".repeat(21) })
  })

  it("rooms: integer fields are lax, non-negative; facility_ids may be null", () => {
    const room = ok(RoomIn, { title: "Стандартный номер", price: "3000", quantity: 5.0, facility_ids: ["1", 2] })
    assert.strictEqual(room.price, 3000)
    assert.deepStrictEqual(room.facility_ids, [1, 2])
    ok(RoomIn, { title: "Стандартный номер", price: 0, quantity: 0, facility_ids: null })
    rejected(RoomIn, { title: "Стандартный номер", price: -1, quantity: 5 })
    rejected(RoomIn, { title: "Стандартный номер", price: 5.5, quantity: 5 })
    rejected(RoomIn, { title: "Стандартный номер", quantity: 5 })
  })

  it("countries: iso_code is exactly two characters", () => {
    ok(CountryIn, { name: "Россия", iso_code: "ru" })
    rejected(CountryIn, { name: "Россия", iso_code: "R" })
    rejected(CountryIn, { name: "Россия", iso_code: "RUS" })
    rejected(CountryIn, { name: "Россия", iso_code: 12 })
  })
})

describe("input limits (D11)", () => {
  it("Text refuses a NUL and an unpaired surrogate, and keeps every real character (pairs included)", () => {
    for (const input of ["", "Москва", "😀 emoji", "\u{10FFFF}", "tab\tnew\nline", "\ud83d\ude00"]) {
      assert.strictEqual(ok(Text, input), input)
    }
    for (const input of ["\u0000", "a\u0000b", "\ud800", "a\udc00", "\ude00\ud83d", "😀\ud83d"]) {
      rejected(Text, input)
    }
  })

  it("the rule is on every request string: bodies, query filters, headers", () => {
    const nul = "x\u0000"
    rejected(CountryIn, { name: nul, iso_code: "RU" })
    rejected(HotelPatch, { address: nul })
    rejected(RoomPatch, { description: "\ud800" })
    rejected(UserRegister, { email: "ivan@example.com", password: "password1", last_name: nul })
    rejected(UserLogin, { email: "ivan@example.com", password: `password${nul}` })
    rejected(HotelsQuery, { title: nul })
    rejected(UsersQuery, { email: nul })
    rejected(IdempotencyHeaders, { "idempotency-key": nul })
    rejected(IdempotencyHeaders, { "idempotency-key": "\udfff" })
    ok(IdempotencyHeaders, { "idempotency-key": "ключ-😀" })
  })

  it("integers are bounded by their column, whatever the input's form", () => {
    for (const input of [2_147_483_647, "2147483647", -2_147_483_648]) ok(LaxInt32, input)
    for (const input of [2_147_483_648, "2147483648", -2_147_483_649, 1e300, 2 ** 63]) rejected(LaxInt32, input)
    ok(LaxNonNegativeInt32, 0)
    for (const input of [-1, 2 ** 31, "2147483648"]) rejected(LaxNonNegativeInt32, input)
    ok(ExternalId, Number.MAX_SAFE_INTEGER)
    rejected(ExternalId, 2 ** 63)
    ok(PageQuery, { page: "2147483647" })
    for (const page of ["2147483648", "1e20", "0"]) rejected(PageQuery, { page })
    rejected(RoomIn, { title: "Номер", price: 1, quantity: 1, facility_ids: [1, 2 ** 31] })
  })

  it("dates run from 0001-01-01 to 9999-12-31", () => {
    for (const input of ["0001-01-01", "9999-12-31"]) assert.strictEqual(ok(DateString, input), input)
    for (const input of ["0000-01-01", "0000-12-31", "10000-01-01", "-0001-01-01", "+002026-01-01"]) {
      rejected(DateString, input)
    }
  })
})

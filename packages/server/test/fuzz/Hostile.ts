/**
 * Hostile values for the fuzz suite (fast-check arbitraries, replayed from a fixed seed).
 *
 * A value is either a JavaScript value, serialised with `JSON.stringify`, or `Raw` JSON text, for what
 * `JSON.stringify` cannot write or must not build in memory as a tree (numbers beyond a double, 100,000
 * levels of nesting). In a URL or a header the same values are written as text (`urlText`, `headerText`),
 * plus `RawUrl` fragments that only make sense there (bad percent-escapes, invalid UTF-8 as escapes).
 */
import fc from "fast-check"

/** JSON text written as is into a body (never parsed here). */
export class Raw {
  constructor(
    readonly text: string,
    readonly label: string
  ) {}
}

/** A URL fragment written as is (already escaped, or deliberately badly escaped). */
export class RawUrl {
  constructor(readonly text: string) {}
}

/** The huge values: 1–5 MB. After each, the suite checks that the server is still alive. */
export class Huge {
  constructor(
    readonly bytes: number,
    readonly kind: "string" | "nested"
  ) {}
}

export type Hostile = unknown

const MB = 1024 * 1024

export const INT32_MAX = 2 ** 31 - 1

export const boundaryNumbers: ReadonlyArray<number> = [
  0,
  -1,
  1,
  INT32_MAX,
  2 ** 31,
  -(2 ** 31),
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  2 ** 63,
  1e308,
  -1e308,
  Number.MIN_VALUE,
  0.5,
  -0.5,
  1.0000001,
  -0
]

/** Numbers that JSON can spell but a double cannot hold (or holds only approximately). */
export const rawNumbers: ReadonlyArray<Raw> = [
  new Raw("1e309", "1e309"),
  new Raw("-1e309", "-1e309"),
  new Raw("123456789012345678901234567890", "30-digit integer"),
  new Raw("9223372036854775808", "2^63"),
  new Raw("1E2", "1E2"),
  new Raw("-0.0", "-0.0"),
  new Raw("0.1e-400", "underflow")
]

export const numericStrings: ReadonlyArray<string> = [
  "NaN",
  "Infinity",
  "-Infinity",
  "1e309",
  "0x1F",
  "0b11",
  "0o17",
  "1_000",
  " 1",
  "1 ",
  "+1",
  "-0",
  "007",
  "1.0",
  "1e3",
  "2147483648",
  "-2147483649",
  "9007199254740993",
  "١٢",
  "１２",
  "9".repeat(400),
  "null",
  "true",
  "undefined"
]

export const dates: ReadonlyArray<string> = [
  "0000-01-01",
  "0001-01-01",
  "9999-12-31",
  "10000-01-01",
  "2027-02-30",
  "2027-02-29",
  "2027-13-01",
  "2027-00-01",
  "2027-01-32",
  "2027-04-31",
  "-0001-01-01",
  "+002027-01-01",
  "+275760-09-13",
  "2027-1-1",
  "20270101",
  "2027-01-01T00:00:00Z",
  "2027-01-01T25:00:00",
  "2027-01-01 00:00",
  "1970-01-01",
  "1900-01-01",
  "4713-01-01 BC",
  "5874897-12-31",
  "infinity",
  "-infinity",
  "epoch",
  "today",
  "now",
  "2027-01-01\u0000",
  "２０２７-０１-０１",
  " 2027-01-01"
]

export const times: ReadonlyArray<string> = [
  "24:00",
  "24:00:01",
  "25:61",
  "23:59:60",
  "12:00:00.123456789",
  "-01:00",
  "12",
  "noon",
  "00:00",
  "12:00+25:00",
  "allballs"
]

export const emails: ReadonlyArray<string> = [
  "a@b",
  "A@EXAMPLE.COM",
  "Name <a@example.com>",
  "a@example.com\u0000",
  "@",
  "a@",
  `${"x".repeat(300)}@example.com`,
  `a@${"x".repeat(300)}.com`,
  "a@b..com",
  '"a b"@example.com',
  "a@[127.0.0.1]",
  "ä@ü.de",
  "a@xn--80ak6aa92e.com",
  "a\ud800@example.com",
  "<>@example.com",
  "a@example.com, b@example.com"
]

export const strings: ReadonlyArray<string> = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff",
  "x\udc00y",
  "\ud83d",
  "\ud83d\ude00",
  "\uffff",
  "\ufeff",
  "\u202e",
  "\u0085\u2028\u2029",
  "\t\r\n",
  "../../../etc/passwd",
  "'; DROP TABLE users; --",
  "%00",
  "%s%n%x",
  "${jndi:ldap://x}",
  "<script>alert(1)</script>",
  "\\",
  '"',
  "ß",
  "İ",
  "ﬀ",
  "ǅ",
  "a".repeat(101),
  "a".repeat(256),
  "я".repeat(73),
  "😀".repeat(40),
  "a".repeat(10_000)
]

export const wrongTypes: ReadonlyArray<unknown> = [null, true, false, [], {}, [1], [null], { a: 1 }, "1", "", 1.5]

/** Deeply nested JSON (an array of arrays, or objects), written as text: building it as a tree would not fit. */
export const nested = (depth: number, kind: "array" | "object" = "array"): Raw =>
  kind === "array"
    ? new Raw(`${"[".repeat(depth)}${"]".repeat(depth)}`, `[…] nested ${depth} deep`)
    : new Raw(`${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`, `{"a":…} nested ${depth} deep`)

/** `n` bytes of one string (mostly ASCII, with two-byte characters mixed in). */
export const hugeText = (bytes: number) =>
  "é".repeat(Math.floor(bytes / 8)) + "x".repeat(bytes - Math.floor(bytes / 8) * 2)

const hugeArb = fc.oneof(
  fc.integer({ min: 1 * MB, max: 5 * MB }).map((bytes) => new Huge(bytes, "string")),
  fc.constant(new Huge(100_000, "nested"))
)

const generatedNumbers = fc.oneof(
  fc.integer(),
  fc.integer({ min: -(2 ** 53), max: 2 ** 53 }),
  fc.double(),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map((n) => new Raw(n.toString(), `integer ${n}`))
)

const generatedStrings = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary-ascii", maxLength: 40 }),
  fc.string({ unit: fc.constantFrom("\u0000", "\ud800", "\udfff", "a", "/", "%", "\\"), maxLength: 20 })
)

const generatedDates = fc
  .date({ min: new Date(-62198755200000), max: new Date(8.64e15), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, d.getUTCFullYear() > 9999 || d.getUTCFullYear() < 0 ? 13 : 10))

/**
 * A hostile value for one field or parameter: every kind, whatever the field's declared type (a date in an
 * integer field is a wrong type), weighted towards the field's own kind.
 */
export const hostileValue = (kind: FieldKind, options: { readonly huge: boolean }) => {
  const own: Array<fc.WeightedArbitrary<unknown>> = []
  switch (kind) {
    case "integer":
    case "number":
      own.push({ arbitrary: fc.constantFrom(...boundaryNumbers), weight: 6 })
      own.push({ arbitrary: fc.constantFrom(...rawNumbers), weight: 2 })
      own.push({ arbitrary: fc.constantFrom(...numericStrings), weight: 3 })
      own.push({ arbitrary: generatedNumbers, weight: 3 })
      break
    case "date":
      own.push({ arbitrary: fc.constantFrom(...dates), weight: 8 })
      own.push({ arbitrary: generatedDates, weight: 3 })
      break
    case "time":
      own.push({ arbitrary: fc.constantFrom(...times), weight: 6 })
      break
    case "email":
      own.push({ arbitrary: fc.constantFrom(...emails), weight: 8 })
      break
    case "array":
      own.push({
        arbitrary: fc.array(fc.oneof(fc.constantFrom(...boundaryNumbers), fc.constantFrom(...wrongTypes)), {
          maxLength: 10
        }),
        weight: 5
      })
      own.push({ arbitrary: fc.constant(Array.from({ length: 10_000 }, (_, i) => i + 1)), weight: 1 })
      break
    default:
      break
  }
  return fc.oneof(
    ...own,
    { arbitrary: fc.constantFrom(...strings), weight: 5 },
    { arbitrary: generatedStrings, weight: 3 },
    { arbitrary: fc.constantFrom(...wrongTypes), weight: 3 },
    { arbitrary: fc.constantFrom(...boundaryNumbers), weight: 2 },
    { arbitrary: fc.constantFrom(...dates), weight: 1 },
    { arbitrary: fc.constantFrom(...rawNumbers), weight: 1 },
    { arbitrary: fc.constantFrom(nested(200), nested(65, "object"), nested(64), nested(63, "object")), weight: 1 },
    ...(options.huge ? [{ arbitrary: hugeArb, weight: 1 }] : [])
  )
}

export type FieldKind = "integer" | "number" | "string" | "date" | "time" | "email" | "boolean" | "array" | "object"

/** URL-only fragments: malformed escapes and escaped bytes that are not UTF-8. */
export const rawUrlFragments: ReadonlyArray<RawUrl> = [
  "%",
  "%zz",
  "%0",
  "%00",
  "a%00b",
  "%ED%A0%80",
  "%ED%BF%BF",
  "%FF",
  "%C0%AE",
  "%C0%AF",
  "%E0%80%AF",
  "%2F",
  "%2e%2e",
  "..",
  ".",
  "%252F",
  "1%20",
  "1%0A",
  "1%0D%0Ax:1",
  "1;x",
  "%3B",
  "+",
  "1+1",
  "%2B1",
  "1e3",
  "0x10",
  "%EF%BC%91"
].map((text) => new RawUrl(text))

/** A value for a path, query or header parameter: the JSON kinds as text, and URL-only fragments. */
export const hostileParameter = (kind: FieldKind) =>
  fc.oneof(
    {
      arbitrary: hostileValue(kind, { huge: false }).filter((v) => !(v instanceof Raw && v.text.length > 2000)),
      weight: 8
    },
    { arbitrary: fc.constantFrom(...rawUrlFragments), weight: 3 },
    { arbitrary: fc.constant(new RawUrl("a".repeat(8000))), weight: 1 }
  )

/** Wrong bodies as a whole, sent once per operation and role (not drawn at random: each is worth a request). */
export type WholeBody =
  | "empty"
  | "null"
  | "array"
  | "string"
  | "number"
  | "invalid json"
  | "truncated json"
  | "trailing garbage"
  | "duplicate keys"
  | "byte order mark"
  | "invalid utf-8"
  | "nul byte"
  | "text/plain"
  | "form-urlencoded"
  | "multipart"
  | "no content type"
  | "json with charset latin1"
  | "nested 100000 arrays"
  | "nested 100000 objects"
  | "nested 65"
  | "huge 5 MB"
  | "huge 1 MB field"

export const wholeBodies: ReadonlyArray<WholeBody> = [
  "empty",
  "null",
  "array",
  "string",
  "number",
  "invalid json",
  "truncated json",
  "trailing garbage",
  "duplicate keys",
  "byte order mark",
  "invalid utf-8",
  "nul byte",
  "text/plain",
  "form-urlencoded",
  "multipart",
  "no content type",
  "json with charset latin1",
  "nested 100000 arrays",
  "nested 100000 objects",
  "nested 65",
  "huge 5 MB",
  "huge 1 MB field"
]

/** Whether this body is one of the big ones (the server is checked alive after it). */
export const isHugeBody = (kind: WholeBody) => kind.startsWith("huge") || kind.startsWith("nested 100000")

/** Hostile claims for a token signed with the server's own key (so the signature is not what refuses it). */
export const hostileClaims = fc.oneof(
  fc.record({
    sub: fc.oneof(
      fc.constantFrom("abc", "-1", "0", "2147483648", "9".repeat(40), "1.5", " 1", "1\u0000", "\ud800", "", "1e3"),
      fc.constantFrom(...boundaryNumbers),
      fc.constantFrom(null, true, [], {})
    ),
    jti: fc.oneof(fc.uuid(), fc.constantFrom("", "\u0000", "\ud800", "x".repeat(5000)), fc.constantFrom(1, null, [])),
    email: fc.constantFrom("a@example.com", "\u0000", 1)
  }),
  fc.record({ sub: fc.constant("1"), jti: fc.uuid(), iat: fc.constantFrom(-1, 1e308, "now", null, 2 ** 53) })
)

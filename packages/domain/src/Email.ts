/**
 * E-mail addresses, validated and normalised as the original did it (Pydantic `EmailStr` on
 * email-validator 2.x, no DNS check), docs/api.md §4.2:
 * - surrounding whitespace is stripped, `Name <a@b.com>` is reduced to the address;
 * - the domain is lower-cased (and NFC-normalised); the local part is kept as typed;
 * - the reasons in the 422 message follow email-validator's wording.
 */
import { Either, ParseResult, Schema } from "effect"
import { ErrorType, maxChars, Text } from "./Common.js"

// Pydantic's "pretty e-mail" form: an optional display name (words or a quoted string), then `<address>`.
const NAME_CHAR = "[\\p{L}\\p{M}\\p{N}_!#$%&'*+\\-/=?^`{|}~]"
const DISPLAY_FORM = new RegExp(`^\\s*(?:(?:${NAME_CHAR}+\\s+)*${NAME_CHAR}+|"(?:[^"]|\\\\")+")?\\s*<(.+)>\\s*$`, "u")

// RFC 5322 atext plus any non-ASCII character (SMTPUTF8), as email-validator allows by default.
const LOCAL_CHAR = /[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.\u0080-\u{10FFFF}]/u
const UNSAFE_CHAR = /[\p{Z}\p{C}]/u
const DOMAIN_CHAR = /[\p{L}\p{M}\p{N}.-]/u
const LABEL = /^[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}-]*[\p{L}\p{M}\p{N}])?$/u

/** RFC 6761 and friends: names that can never receive mail (email-validator's list). */
const SPECIAL_USE_DOMAINS = ["arpa", "invalid", "local", "localhost", "onion", "test"] as const

const describeChars = (chars: Iterable<string>): string =>
  [...new Set(chars)].map((c) => (c === " " ? "SPACE" : /\s/u.test(c) ? JSON.stringify(c) : `'${c}'`)).join(", ")

const tooMany = (n: number): string => `${n} character${n === 1 ? "" : "s"} too many`

const invalidChars = (text: string, allowed: RegExp): Array<string> =>
  [...text].filter((c) => !allowed.test(c) || UNSAFE_CHAR.test(c))

const checkDots = (text: string, start: string, end: string): string | undefined => {
  if (text.startsWith(".")) return start
  if (text.endsWith(".")) return end
  if (text.includes("..")) return "An email address cannot have two periods in a row."
  return undefined
}

const checkLocalPart = (local: string): string | undefined => {
  if (local === "") return "There must be something before the @-sign."
  if (local.startsWith('"')) return "Quoting the part before the @-sign is not allowed here."
  const length = [...local].length
  if (length > 64) return `The email address is too long before the @-sign (${tooMany(length - 64)}).`
  const bad = invalidChars(local, LOCAL_CHAR)
  if (bad.length > 0) return `The email address contains invalid characters before the @-sign: ${describeChars(bad)}.`
  return checkDots(
    local,
    "An email address cannot start with a period.",
    "An email address cannot have a period immediately before the @-sign."
  )
}

const checkDomain = (domain: string): string | undefined => {
  if (domain === "") return "There must be something after the @-sign."
  if (domain.startsWith("[")) return "A bracketed IP address after the @-sign is not allowed here."
  const bad = invalidChars(domain, DOMAIN_CHAR)
  if (bad.length > 0) return `The part after the @-sign contains invalid characters: ${describeChars(bad)}.`
  const dots = checkDots(
    domain,
    "An email address cannot have a period immediately after the @-sign.",
    "An email address cannot end with a period."
  )
  if (dots !== undefined) return dots
  const labels = domain.split(".")
  for (const label of labels) {
    const length = [...label].length
    if (length > 63) {
      return `After the @-sign, periods cannot be separated by so many characters (${tooMany(length - 63)}).`
    }
    if (!LABEL.test(label)) return "An email address cannot have a hyphen at the start or end of a part of the domain."
  }
  if ([...domain].length > 253) return "The email address is too long after the @-sign."
  if (labels.length < 2) return "The part after the @-sign is not valid. It should have a period."
  if (!/\p{L}$/u.test(domain))
    return "The part after the @-sign is not valid. It is not within a valid top-level domain."
  if (SPECIAL_USE_DOMAINS.some((name) => domain === name || domain.endsWith(`.${name}`))) {
    return "The part after the @-sign is a special-use or reserved name that cannot be used with email."
  }
  return undefined
}

/** The normalised address, or the reason it is not one. */
const parseEmail = (input: string): Either.Either<string, string> => {
  const address = (DISPLAY_FORM.exec(input)?.[1] ?? input).trim()
  const at = address.lastIndexOf("@")
  if (at < 0) return Either.left("An email address must have an @-sign.")
  const local = address.slice(0, at).normalize("NFC")
  const domain = address
    .slice(at + 1)
    .normalize("NFC")
    .toLowerCase()
  const reason = checkLocalPart(local) ?? checkDomain(domain)
  if (reason !== undefined) return Either.left(reason)
  const normalized = `${local}@${domain}`
  const length = [...normalized].length
  if (length > 254) return Either.left(`The email address is too long (${tooMany(length - 254)}).`)
  return Either.right(normalized)
}

/**
 * An e-mail address in a request body (≤255 characters as sent). Decodes to the normalised address;
 * a bad one is a 422 `value_error` with `value is not a valid email address: <reason>`.
 */
export const Email = Schema.transformOrFail(Text.pipe(maxChars(255)), Schema.String, {
  strict: true,
  decode: (input, _, ast) =>
    Either.match(parseEmail(input), {
      onLeft: (reason) =>
        ParseResult.fail(new ParseResult.Type(ast, input, `value is not a valid email address: ${reason}`)),
      onRight: ParseResult.succeed
    }),
  encode: ParseResult.succeed
}).annotations({
  identifier: "Email",
  // A `jsonSchema` override replaces the generated schema, so description and examples live inside it.
  jsonSchema: {
    type: "string",
    format: "email",
    maxLength: 255,
    description: "An e-mail address; `Name <a@b.com>` is accepted and reduced, the domain is lower-cased.",
    examples: ["ivan.petrov@example.com"]
  },
  [ErrorType]: "value_error"
})

/**
 * docs/decisions.md D11: JSON request bodies are parsed only once their nesting is known to be at most
 * `MAX_JSON_DEPTH` levels. A deeper document would cost recursion everywhere it goes next (decoding,
 * validation, the 422's echo — 100,000 levels overflowed the stack), so it is refused as a 422 first,
 * by a linear scan of the text that itself uses no recursion.
 */

export const MAX_JSON_DEPTH = 64

const QUOTE = 34
const BACKSLASH = 92
const OPEN_BRACE = 123
const OPEN_BRACKET = 91
const CLOSE_BRACE = 125
const CLOSE_BRACKET = 93

/**
 * The offset at which `text` opens an array or object nested deeper than `max`, or -1. Brackets inside
 * strings do not count; the text need not be valid JSON (`JSON.parse` judges that afterwards).
 */
export const excessiveNestingAt = (text: string, max: number = MAX_JSON_DEPTH): number => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) {
      inString = true
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return i
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--
    }
  }
  return -1
}

/** A body nested deeper than `MAX_JSON_DEPTH`: where the level beyond the limit opens. */
export class JsonTooDeep extends Error {
  readonly _tag = "JsonTooDeep"
  constructor(readonly offset: number) {
    super(`JSON nested deeper than ${MAX_JSON_DEPTH} levels at position ${offset}`)
    this.name = "JsonTooDeep"
  }
}

/** `JSON.parse`, after the nesting check: throws a `JsonTooDeep` or `JSON.parse`'s `SyntaxError`. */
export const parseJson = (text: string): unknown => {
  const at = excessiveNestingAt(text)
  if (at !== -1) throw new JsonTooDeep(at)
  return JSON.parse(text)
}

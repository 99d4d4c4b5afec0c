/**
 * Webhook secrets and signatures (docs/decisions.md D16), per the Standard Webhooks specification: a
 * secret is `whsec_` + base64 of 24 random bytes; a message is signed as `v1,` + base64 of the
 * HMAC-SHA256, keyed with the secret's bytes, of `{webhook-id}.{webhook-timestamp}.{body}`. Several
 * signatures (a rotated secret's grace period) are separated by spaces.
 *
 * At rest a secret is encrypted with AES-256-GCM under a key derived (HKDF-SHA256) from
 * `WEBHOOK_SECRET_KEY`, or `JWT_SECRET_KEY` when that is unset: signing needs the secret itself.
 */
import { Option, Redacted } from "effect"
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
  timingSafeEqual
} from "node:crypto"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { fileURLToPath } from "node:url"

const SECRET_PREFIX = "whsec_"
const CIPHER_PREFIX = "v1:"

/**
 * Where the key of a checkout given no key material (local only) is kept: next to the embedded default's
 * database (`.data/`, git-ignored), so the subscriptions it encrypted still decrypt after a restart.
 */
export const LOCAL_KEY_FILE = fileURLToPath(new URL("../../../.data/webhook-secret.key", import.meta.url))

/**
 * The local key: read from `file`, or made (32 random bytes, mode 0600) when there is none. `wx` makes a
 * server and a worker starting together agree: the second finds the first's file.
 */
export const localKeyMaterial = (file: string = LOCAL_KEY_FILE): Buffer => {
  try {
    return readFileSync(file)
  } catch {
    mkdirSync(dirname(file), { recursive: true })
    try {
      writeFileSync(file, randomBytes(32), { mode: 0o600, flag: "wx" })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    }
    return readFileSync(file)
  }
}

export const generateSecret = (): string => SECRET_PREFIX + randomBytes(24).toString("base64")

const secretBytes = (secret: string): Buffer =>
  Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, "base64")

/**
 * A secret's HMAC key as a key object, made once and reused for every message it signs (a sender keeps one per
 * secret: decoding the secret and importing the key per message was a visible part of a delivery's CPU).
 */
export const signingKey = (secret: string): KeyObject => createSecretKey(secretBytes(secret))

/** One `v1,<base64>` signature, with a secret or its key object (`signingKey`): the same signature. */
export const sign = (secret: string | KeyObject, id: string, timestamp: number, body: string): string =>
  "v1," +
  createHmac("sha256", typeof secret === "string" ? secretBytes(secret) : secret)
    .update(`${id}.${timestamp}.${body}`)
    .digest("base64")

/** The `webhook-signature` header: one signature per secret (or key object), space-separated. */
export const signatureHeader = (
  secrets: ReadonlyArray<string | KeyObject>,
  id: string,
  timestamp: number,
  body: string
) => secrets.map((secret) => sign(secret, id, timestamp, body)).join(" ")

/**
 * A receiver's check: some `v1` signature of the header matches, and the timestamp is within `toleranceSeconds`
 * of `now` (replays of old messages are refused).
 */
export const verify = (
  secret: string,
  headers: { readonly id: string; readonly timestamp: string; readonly signature: string },
  body: string,
  now: number = Date.now(),
  toleranceSeconds = 300
): boolean => {
  const timestamp = Number(headers.timestamp)
  if (!Number.isInteger(timestamp) || Math.abs(now / 1000 - timestamp) > toleranceSeconds) return false
  const expected = Buffer.from(sign(secret, headers.id, timestamp, body))
  return headers.signature.split(" ").some((candidate) => {
    const given = Buffer.from(candidate)
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}

export interface SecretCipher {
  readonly encrypt: (secret: string) => string
  /** `None` when the text was not encrypted under this key (the key changed). */
  readonly decrypt: (stored: string) => Option.Option<string>
}

/** The cipher of `keyMaterial`; without any, the checkout's local key (`localKeyMaterial`; local use, see Config.ts). */
export const makeCipher = (
  keyMaterial: Option.Option<Redacted.Redacted>,
  localKeyFile: string = LOCAL_KEY_FILE
): SecretCipher => {
  const material = Option.match(keyMaterial, {
    onNone: () => localKeyMaterial(localKeyFile),
    onSome: (value) => Buffer.from(Redacted.value(value), "utf8")
  })
  const key = Buffer.from(hkdfSync("sha256", material, "shum-booking", "webhook-secrets", 32))
  return {
    encrypt: (secret) => {
      const iv = randomBytes(12)
      const cipher = createCipheriv("aes-256-gcm", key, iv)
      const data = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()])
      return CIPHER_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), data]).toString("base64")
    },
    decrypt: (stored) => {
      if (!stored.startsWith(CIPHER_PREFIX)) return Option.none()
      try {
        const raw = Buffer.from(stored.slice(CIPHER_PREFIX.length), "base64")
        const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12))
        decipher.setAuthTag(raw.subarray(12, 28))
        return Option.some(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8"))
      } catch {
        return Option.none()
      }
    }
  }
}

/**
 * The signing secrets' encryption at rest (docs/decisions.md D16) when no key is configured (the embedded
 * default): the checkout's local key is kept in a file, so what one process encrypted another decrypts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import { mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { generateSecret, localKeyMaterial, makeCipher } from "../src/WebhookSigning.js"

describe("WebhookSigning without a configured key", () => {
  it("the local key is made once (mode 0600) and reused: a secret encrypted before a restart decrypts after", () => {
    const dir = mkdtempSync(join(tmpdir(), "shum-webhook-key-"))
    try {
      const file = join(dir, ".data", "webhook-secret.key")
      const secret = generateSecret()
      const stored = makeCipher(Option.none(), file).encrypt(secret)
      assert.strictEqual(statSync(file).mode & 0o777, 0o600)
      assert.strictEqual(localKeyMaterial(file).length, 32)
      // "after a restart": a new cipher reads the same file
      assert.deepStrictEqual(makeCipher(Option.none(), file).decrypt(stored), Option.some(secret))
      // another checkout (another file) has another key: it cannot read it
      assert.isTrue(Option.isNone(makeCipher(Option.none(), join(dir, "other.key")).decrypt(stored)))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

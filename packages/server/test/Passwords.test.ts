/** bcrypt's cost and format (docs/decisions.md D3): no database needed. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { BCRYPT_COST, BcryptCost, Passwords } from "../src/Auth/Passwords.js"

describe("Passwords", () => {
  it.effect("the service hashes with $2b$, cost 12, and verifies its own and the original's hashes", () =>
    Effect.gen(function* () {
      const passwords = yield* Passwords
      assert.strictEqual(BCRYPT_COST, 12)
      const hashed = yield* passwords.hash("s3cret-pass")
      assert.match(hashed, /^\$2b\$12\$/)
      assert.isTrue(yield* passwords.verify("s3cret-pass", hashed))
      assert.isFalse(yield* passwords.verify("s3cret-pasS", hashed))
      assert.isFalse(yield* passwords.verify("s3cret-pass", null))
      assert.isFalse(yield* passwords.verify("s3cret-pass", "not a hash"))
    }).pipe(Effect.provide(Passwords.Default))
  )

  it.effect("a lower cost (the HTTP tests' harness) changes only the cost; cost-12 hashes still verify", () =>
    Effect.gen(function* () {
      const passwords = yield* Passwords
      const hashed = yield* passwords.hash("s3cret-pass")
      assert.match(hashed, /^\$2b\$04\$/)
      assert.isTrue(yield* passwords.verify("s3cret-pass", hashed))
      // made by the original: Python bcrypt.hashpw(b"testpass123", bcrypt.gensalt(12))
      const legacy = "$2b$12$muxx2WyWXruaVSlomr7zNenET1TrWTWj1FRpiXdVqsykADa6ebLqq"
      assert.isTrue(yield* passwords.verify("testpass123", legacy))
    }).pipe(Effect.provide(Passwords.Default.pipe(Layer.provide(Layer.succeed(BcryptCost, 4)))))
  )
})

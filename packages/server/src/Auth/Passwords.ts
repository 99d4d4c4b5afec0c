/**
 * bcrypt, cost 12, `$2b$` (D3) — hashes from the original's database keep verifying. The native
 * implementation runs on libuv's thread pool, so a login never stalls the event loop.
 * The original truncated the UTF-8 bytes to 72 before hashing; bcrypt itself does the same.
 */
import { hash, verify } from "@node-rs/bcrypt"
import { Effect } from "effect"

export const BCRYPT_COST = 12

export class Passwords extends Effect.Service<Passwords>()("server/Passwords", {
  succeed: {
    hash: (password: string): Effect.Effect<string> =>
      Effect.promise(() => hash(password, { cost: BCRYPT_COST, version: "2b" })).pipe(
        Effect.withSpan("Passwords.hash")
      ),
    /** An absent or unparsable stored hash is simply a wrong password (docs/api.md §8.1), never an error. */
    verify: (password: string, stored: string | null): Effect.Effect<boolean> =>
      stored === null || stored === ""
        ? Effect.succeed(false)
        : Effect.tryPromise(() => verify(password, stored)).pipe(
            Effect.orElseSucceed(() => false),
            Effect.withSpan("Passwords.verify")
          )
  }
}) {}

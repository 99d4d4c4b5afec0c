/**
 * bcrypt, cost 12, `$2b$` (docs/decisions.md D3) — hashes from the original's database keep verifying. The
 * native implementation runs on libuv's thread pool, so a login never stalls the event loop.
 * Passwords are at most 72 bytes in UTF-8 (docs/decisions.md D12), all of which bcrypt reads.
 */
import { hash, verify } from "@node-rs/bcrypt"
import { Context, Effect } from "effect"

export const BCRYPT_COST = 12

/**
 * The cost new hashes are made with: 12 everywhere the service runs. Only the HTTP tests' harness lowers it
 * (`test/support.ts`), so that hundreds of sign-ups run in seconds through the same code; a test checks
 * that the service itself hashes at 12.
 */
export class BcryptCost extends Context.Reference<BcryptCost>()("server/BcryptCost", {
  defaultValue: () => BCRYPT_COST
}) {}

export class Passwords extends Effect.Service<Passwords>()("server/Passwords", {
  effect: Effect.map(BcryptCost, (cost) => ({
    hash: (password: string): Effect.Effect<string> =>
      Effect.promise(() => hash(password, { cost, version: "2b" })).pipe(Effect.withSpan("Passwords.hash")),
    /** An absent or unparsable stored hash is simply a wrong password (docs/api.md §8.1), never an error. */
    verify: (password: string, stored: string | null): Effect.Effect<boolean> =>
      stored === null || stored === ""
        ? Effect.succeed(false)
        : Effect.tryPromise(() => verify(password, stored)).pipe(
            Effect.orElseSucceed(() => false),
            Effect.withSpan("Passwords.verify")
          )
  }))
}) {}

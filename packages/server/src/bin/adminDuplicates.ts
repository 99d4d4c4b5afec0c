/**
 * `npm run admin:duplicates`
 * Lists the accounts whose e-mail addresses differ only in letter case (docs/decisions.md D12). The original
 * let them be made; the new service keeps them all (each signs in with its exact address) and makes no new
 * ones. Merge or rename them by hand (`PUT /users/{id}` as an admin); the output names each account.
 * Exits 0 with or without twins; prints one line per group, the oldest account first.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Database from "@shum/infra/Database"
import { LoggingLive } from "@shum/infra/Logging"
import { Console, Effect, Layer } from "effect"
import { UsersRepo } from "../Users/UsersRepo.js"

/** Only the database variables are needed (no JWT secret and such). */
const DatabaseOnly = Layer.unwrapEffect(Effect.map(Database.settings, Database.fromSettings))

const program = Effect.gen(function* () {
  const users = yield* UsersRepo
  const groups = yield* users.caseTwins
  if (groups.length === 0) return yield* Console.log("no e-mail case twins")
  for (const group of groups) {
    const accounts = group.accounts.map((a) => `#${a.id} ${a.email} (${a.role})`).join(", ")
    yield* Console.log(`${group.address}: ${accounts}`)
  }
  yield* Console.log(`${groups.length} address(es) shared by accounts that differ only in letter case`)
})

program.pipe(
  Effect.provide(UsersRepo.Default.pipe(Layer.provide(DatabaseOnly))),
  Effect.provide(LoggingLive),
  Effect.tapErrorCause((cause) => Console.error(`admin:duplicates failed:\n${cause}`)),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)

/**
 * `npm run admin:create -- --email admin@example.com --password 's3cret-pass'`
 * Makes sure this admin exists in the configured database (D1): creates it, or gives an existing user
 * the admin role. An existing user's password is never changed.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Email } from "@shum/domain/Email"
import { Password } from "@shum/domain/Users"
import * as Database from "@shum/infra/Database"
import { LoggingLive } from "@shum/infra/Logging"
import { Console, Effect, Layer, Schema } from "effect"
import { parseArgs } from "node:util"
import { Passwords } from "../Auth/Passwords.js"
import { UsersRepo } from "../Users/UsersRepo.js"

/** Only the database variables are needed (no JWT secret and such). */
const DatabaseOnly = Layer.unwrapEffect(Effect.map(Database.settings, Database.fromSettings))

const Args = Schema.Struct({ email: Email, password: Password })

const program = Effect.gen(function* () {
  const { values } = parseArgs({ options: { email: { type: "string" }, password: { type: "string" } } })
  const args = yield* Schema.decodeUnknown(Args)(values)
  const passwords = yield* Passwords
  const users = yield* UsersRepo
  const created = yield* users.ensureAdmin(args.email, yield* passwords.hash(args.password))
  yield* Console.log(
    created ? `admin ${args.email} created` : `${args.email} exists; it is an admin now (password unchanged)`
  )
})

program.pipe(
  Effect.provide(Layer.mergeAll(UsersRepo.Default, Passwords.Default).pipe(Layer.provide(DatabaseOnly))),
  Effect.provide(LoggingLive),
  Effect.tapErrorCause((cause) => Console.error(`admin:create failed:\n${cause}`)),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)

/**
 * What every service under unit test needs besides its repositories: the configuration (from a map, never
 * the environment), the metrics (their own registry per Layer), the audit trail (`AuditTrail.ts`), bcrypt at the harness's low cost (the same
 * code path; `Passwords.test.ts` proves the service's own 12).
 */
import { AppConfig } from "@shum/infra/Config"
import { Layer } from "effect"
import { BcryptCost, Passwords } from "../../../src/Auth/Passwords.js"
import { Metrics } from "../../../src/Metrics.js"
import { AuditTrailMemory } from "./AuditTrail.js"

export const UNIT_SECRET = "unit-test-secret-key-for-shum-booking-only"

/** bcrypt's lowest cost: a hash in about a millisecond. */
export const UNIT_BCRYPT_COST = 4

export const unitConfig = (env: Record<string, string> = {}) =>
  AppConfig.fromEnv({ APP_ENV: "test", JWT_SECRET_KEY: UNIT_SECRET, DATABASE_URL: "postgres://unused/x", ...env })

/** `AppConfig`, `Metrics`, `Passwords` and the audit trail in memory, from the given variables. */
export const unitEnvironment = (env: Record<string, string> = {}) =>
  Layer.mergeAll(Metrics.Default, Passwords.Default, AuditTrailMemory).pipe(
    Layer.provideMerge(unitConfig(env)),
    Layer.provide(Layer.succeed(BcryptCost, UNIT_BCRYPT_COST))
  )

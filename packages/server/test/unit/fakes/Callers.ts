/** Callers as the authentication middleware would hand them to a service. */
import type { AuthenticatedUser, UncheckedSession } from "@shum/domain/Security"
import { Effect } from "effect"
import { newSession } from "../../../src/Auth/DeferredSession.js"

export const caller = (id: number, role: "user" | "admin" = "user"): AuthenticatedUser => ({
  id,
  email: `${role}${id}@example.com`,
  role,
  jti: `jti-${id}`,
  expiresAt: Math.floor(Date.now() / 1000) + 900
})

/**
 * The session `DeferredAuthentication` hands a write for this caller (token version 0): its statement (or a
 * fake of it) checks it; the eager check, never needed, passes.
 */
export const sessionOf = (user: AuthenticatedUser, version = 0): UncheckedSession =>
  newSession({ userId: user.id, jti: user.jti, expiresAt: user.expiresAt, version }, Effect.void)

/**
 * A failure's tag and `detail`, for comparison: an error raised inside a traced function carries its span
 * (a circular structure a deep comparison of the error itself would walk forever).
 */
export const problem = (error: { readonly _tag: string }) => ({
  _tag: error._tag,
  detail: (error as { readonly detail?: unknown }).detail
})

/** Callers as the authentication middleware would hand them to a service. */
import type { AuthenticatedUser } from "@shum/domain/Security"

export const caller = (id: number, role: "user" | "admin" = "user"): AuthenticatedUser => ({
  id,
  email: `${role}${id}@example.com`,
  role,
  jti: `jti-${id}`,
  expiresAt: Math.floor(Date.now() / 1000) + 900
})

/**
 * A failure's tag and `detail`, for comparison: an error raised inside a traced function carries its span
 * (a circular structure a deep comparison of the error itself would walk forever).
 */
export const problem = (error: { readonly _tag: string }) => ({
  _tag: error._tag,
  detail: (error as { readonly detail?: unknown }).detail
})

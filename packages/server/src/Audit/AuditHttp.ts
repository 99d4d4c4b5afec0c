import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { ShumApi } from "@shum/domain/Api"
import { Effect } from "effect"
import { AuditService } from "./AuditService.js"

/** `GET /audit` (docs/api.md §15): admin only, by the group's `AdminAuthentication`. */
export const AuditLive = HttpApiBuilder.group(ShumApi, "audit", (handlers) =>
  Effect.gen(function* () {
    const audit = yield* AuditService
    return handlers.handle("list", ({ urlParams }) => audit.list(urlParams))
  })
)

import { closedGroup } from "../Http/ClosedGroup.js"
import { ShumApi } from "@shum/domain/Api"
import { Effect } from "effect"
import { AuditService } from "./AuditService.js"

/** `GET /audit` (docs/api.md §15): admin only, by the group's `AdminAuthentication`. */
export const AuditLive = closedGroup(ShumApi, "audit", (handlers) =>
  Effect.gen(function* () {
    const audit = yield* AuditService
    return handlers.handle("list", ({ urlParams }) => audit.list(urlParams))
  })
)

/**
 * The audit log (docs/api.md §15; docs/decisions.md D17): admin only, read only.
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import { AuditPage, AuditQuery } from "./Audit.js"
import { RateLimited, ValidationError } from "./Errors.js"
import { AdminAuthentication } from "./Security.js"

export class AuditApi extends HttpApiGroup.make("audit")
  .add(
    HttpApiEndpoint.get("list", "/audit")
      .setUrlParams(AuditQuery)
      .addSuccess(AuditPage)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "listAudit")
      .annotate(OpenApi.Summary, "Read the audit log")
      .annotate(
        OpenApi.Description,
        "Admin only. Every write by an admin (catalogue, images, users, webhooks) and every burst of failed " +
          "sign-ins, newest first: `entity`, `entity_id`, `actor_id`, `action` and the time range `from` (inclusive) " +
          "to `to` (exclusive) filter; `limit` (1..100, default 20) rows per page, `next_cursor` pages on."
      )
  )
  .addError(RateLimited)
  .annotate(OpenApi.Title, "Аудит")
  .annotate(
    OpenApi.Description,
    "The append-only audit log: who changed what and when, with the before/after of the changed fields. Admin only."
  ) {}

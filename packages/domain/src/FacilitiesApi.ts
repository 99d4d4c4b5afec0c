/**
 * Facilities: free-text amenity labels that rooms link to (docs/api.md §8.4; docs/decisions.md D1).
 * There is no update endpoint, as in the original.
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { Created, CREATED, Message } from "./Common.js"
import { NotFound, RateLimited, ValidationError } from "./Errors.js"
import { FacilitiesQuery, FacilityIdPath } from "./Params.js"
import { Facility, FacilityIn } from "./Rooms.js"
import { AdminAuthentication } from "./Security.js"
import { conditionalRead, locatesCreated } from "./OpenApiHeaders.js"

const ADMIN_ONLY = "Admin only (D1; the original let anyone write)."

export class FacilitiesApi extends HttpApiGroup.make("facilities")
  .add(
    HttpApiEndpoint.get("list", "/facilities")
      .setUrlParams(FacilitiesQuery)
      .addSuccess(Schema.Array(Facility))
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "listFacilities")
      .annotate(OpenApi.Transform, conditionalRead)
      .annotate(OpenApi.Summary, "List facilities")
      .annotate(OpenApi.Description, "Facilities, by id, paginated, filtered by `title` (partial, case-insensitive).")
  )
  .add(
    HttpApiEndpoint.get("get", "/facilities/:facility_id")
      .setPath(FacilityIdPath)
      .addSuccess(Facility)
      .addError(NotFound)
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "getFacility")
      .annotate(OpenApi.Transform, conditionalRead)
      .annotate(OpenApi.Summary, "Get a facility")
      .annotate(OpenApi.Description, "One facility. Unknown id → 404 `Удобство не найдено`.")
  )
  .add(
    HttpApiEndpoint.post("create", "/facilities")
      .setPayload(FacilityIn)
      .addSuccess(Created)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "createFacility")
      .annotate(OpenApi.Transform, locatesCreated("/facilities/{facility_id}"))
      .annotate(OpenApi.Summary, "Create a facility")
      .annotate(OpenApi.Description, `${ADMIN_ONLY} Titles need not be unique. ${CREATED}`)
  )
  .add(
    HttpApiEndpoint.del("delete", "/facilities/:facility_id")
      .setPath(FacilityIdPath)
      .addSuccess(Message)
      .addError(NotFound)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "deleteFacility")
      .annotate(OpenApi.Summary, "Delete a facility")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Unknown id → 404 \`Удобство не найдено\`. Removes the facility from every room.`
      )
  )
  .addError(RateLimited)
  .annotate(OpenApi.Title, "Удобства")
  .annotate(
    OpenApi.Description,
    "Amenity labels (Wi-Fi, air conditioning, …) linked to room types. Reads are public with a strong `ETag` " +
      "(D7); writes are for admins."
  ) {}

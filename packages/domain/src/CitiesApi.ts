/**
 * Cities (docs/api.md §8.3; docs/data.md BR-1, BR-10, BR-11; docs/decisions.md D1).
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { Created, CREATED, Message } from "./Common.js"
import { Conflict, IntegrityViolation, NotFound, RateLimited, ValidationError } from "./Errors.js"
import { City, CityIn, CityPatch } from "./Geo.js"
import { CitiesQuery, CityIdPath } from "./Params.js"
import { AdminAuthentication } from "./Security.js"
import { conditionalRead, locatesCreated } from "./OpenApiHeaders.js"

const ADMIN_ONLY = "Admin only (D1; the original let anyone write)."
const NAME_TAKEN =
  "another city has exactly that name in the target country → 409 `Город с название '<name>' уже существует`"

export class CitiesApi extends HttpApiGroup.make("cities")
  .add(
    HttpApiEndpoint.get("list", "/cities")
      .setUrlParams(CitiesQuery)
      .addSuccess(Schema.Array(City))
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "listCities")
      .annotate(OpenApi.Transform, conditionalRead)
      .annotate(OpenApi.Summary, "List cities")
      .annotate(
        OpenApi.Description,
        "Cities with their country, by id, paginated, filtered by `name` (partial, case-insensitive) and " +
          "`country_id`."
      )
  )
  .add(
    HttpApiEndpoint.get("get", "/cities/:city_id")
      .setPath(CityIdPath)
      .addSuccess(City)
      .addError(NotFound)
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "getCity")
      .annotate(OpenApi.Transform, conditionalRead)
      .annotate(OpenApi.Summary, "Get a city")
      .annotate(OpenApi.Description, "One city with its country. Unknown id → 404 `Город не найдено` (sic).")
  )
  .add(
    HttpApiEndpoint.post("create", "/cities")
      .setPayload(CityIn)
      .addSuccess(Created)
      .addError(NotFound)
      .addError(Conflict)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "createCity")
      .annotate(OpenApi.Transform, locatesCreated("/cities/{city_id}"))
      .annotate(OpenApi.Summary, "Create a city")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} The same name may exist in different countries. ${CREATED}\n\n` +
          `Order: 401/403 → 422 → unknown country → 404 \`Страна с ID {id} не найден\` → ${NAME_TAKEN}.`
      )
  )
  .add(
    HttpApiEndpoint.put("update", "/cities/:city_id")
      .setPath(CityIdPath)
      .setPayload(CityIn)
      .addSuccess(Message)
      .addError(NotFound)
      .addError(Conflict)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "updateCity")
      .annotate(OpenApi.Summary, "Replace a city")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Order: 401/403 → 422 → unknown city → 404 \`Город с ID {id} не найден\` → unknown ` +
          `country → 404 \`Страна с ID {id} не найден\` → name or country changed and ${NAME_TAKEN}.`
      )
  )
  .add(
    HttpApiEndpoint.patch("patch", "/cities/:city_id")
      .setPath(CityIdPath)
      .setPayload(CityPatch)
      .addSuccess(Message)
      .addError(NotFound)
      .addError(Conflict)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "patchCity")
      .annotate(OpenApi.Summary, "Partly update a city")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} \`null\` is the same as an absent field (as in the original).\n\n` +
          "Order: 401/403 → 422 → unknown city → 404 `Город с ID {id} не найден` → nothing to change → 200 → " +
          `\`country_id\` sent and unknown → 404 → the final (name, country) pair: ${NAME_TAKEN}.\n\n` +
          "Differs from the original: uniqueness is checked on the final pair (the original crashed with a 500 " +
          "when the name stayed the same)."
      )
  )
  .add(
    HttpApiEndpoint.del("delete", "/cities/:city_id")
      .setPath(CityIdPath)
      .addSuccess(Message)
      .addError(NotFound)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "deleteCity")
      .annotate(OpenApi.Summary, "Delete a city")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Order: 401/403 → 422 → unknown id → 404 \`Город не найден\` → the city still has hotels → ` +
          "409 `Нарушение целостности данных. …` (nothing is deleted, as in the original)."
      )
  )
  .addError(RateLimited)
  .annotate(OpenApi.Title, "Города")
  .annotate(
    OpenApi.Description,
    "Cities, each in one country; a name is unique within its country. Reads are public with a strong `ETag` " +
      "(D7); writes are for admins."
  ) {}

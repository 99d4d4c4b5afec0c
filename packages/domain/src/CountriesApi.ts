/**
 * Countries (docs/api.md §8.2; docs/data.md BR-1, BR-10; docs/decisions.md D1, D9).
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { Created, CREATED, Message } from "./Common.js"
import { Conflict, IntegrityViolation, NotFound, RateLimited, ValidationError } from "./Errors.js"
import { Country, CountryIn, CountryPatch } from "./Geo.js"
import { CountriesQuery, CountryIdPath } from "./Params.js"
import { AdminAuthentication } from "./Security.js"
import { conditionalRead, locatesCreated } from "./OpenApiHeaders.js"

const ADMIN_ONLY = "Admin only (D1; the original let anyone write)."
const UNIQUENESS =
  "name used by another country (case-insensitive) → 409 `Страна с название '<name>' уже существует` → ISO " +
  "code used by another country (upper-cased) → 409 `Страна с ISO код '<ISO>' уже существует`"

export class CountriesApi extends HttpApiGroup.make("countries")
  .add(
    HttpApiEndpoint.get("list", "/countries")
      .setUrlParams(CountriesQuery)
      .addSuccess(Schema.Array(Country))
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "listCountries")
      .annotate(OpenApi.Transform, conditionalRead)
      .annotate(OpenApi.Summary, "List countries")
      .annotate(OpenApi.Description, "Countries, by id, paginated, filtered by `name` (partial, case-insensitive).")
  )
  .add(
    HttpApiEndpoint.get("get", "/countries/:country_id")
      .setPath(CountryIdPath)
      .addSuccess(Country)
      .addError(NotFound)
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "getCountry")
      .annotate(OpenApi.Transform, conditionalRead)
      .annotate(OpenApi.Summary, "Get a country")
      .annotate(OpenApi.Description, "One country. Unknown id → 404 `Страна не найден` (sic, the original's text).")
  )
  .add(
    HttpApiEndpoint.post("create", "/countries")
      .setPayload(CountryIn)
      .addSuccess(Created)
      .addError(Conflict)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "createCountry")
      .annotate(OpenApi.Transform, locatesCreated("/countries/{country_id}"))
      .annotate(OpenApi.Summary, "Create a country")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} The ISO code is stored upper-cased. ${CREATED}\n\nOrder: 401/403 → 422 → ${UNIQUENESS}.`
      )
  )
  .add(
    HttpApiEndpoint.put("update", "/countries/:country_id")
      .setPath(CountryIdPath)
      .setPayload(CountryIn)
      .addSuccess(Message)
      .addError(NotFound)
      .addError(Conflict)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "updateCountry")
      .annotate(OpenApi.Summary, "Replace a country")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Both fields are required.\n\n` +
          `Order: 401/403 → 422 → unknown id → 404 \`Страна с ID {id} не найден\` → ${UNIQUENESS}.\n\n` +
          "Differs from the original (D9): changing only the letter case of the country's own name succeeds " +
          "(the original found the country itself and answered 409)."
      )
  )
  .add(
    HttpApiEndpoint.patch("patch", "/countries/:country_id")
      .setPath(CountryIdPath)
      .setPayload(CountryPatch)
      .addSuccess(Message)
      .addError(NotFound)
      .addError(Conflict)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "patchCountry")
      .annotate(OpenApi.Summary, "Partly update a country")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} \`null\` is the same as an absent field (as in the original); nothing to change → 200 ` +
          `after the existence check.\n\nOrder: 401/403 → 422 → unknown id → 404 \`Страна с ID {id} не найден\` → ` +
          `the checks of PUT for the fields sent.`
      )
  )
  .add(
    HttpApiEndpoint.del("delete", "/countries/:country_id")
      .setPath(CountryIdPath)
      .addSuccess(Message)
      .addError(NotFound)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "deleteCountry")
      .annotate(OpenApi.Summary, "Delete a country")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Order: 401/403 → 422 → unknown id → 404 \`Страна не найдена\` → the country still has ` +
          "cities → 409 `Нарушение целостности данных. …` (nothing is deleted, as in the original)."
      )
  )
  .addError(RateLimited)
  .annotate(OpenApi.Title, "Страны")
  .annotate(
    OpenApi.Description,
    "Countries (a unique name and a unique two-character ISO code). Reads are public with a strong `ETag` (D7); " +
      "writes are for admins."
  ) {}

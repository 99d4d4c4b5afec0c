/**
 * The whole HTTP contract: one `HttpApi` with a group per tag, in the order of docs/api.md §6.6.
 * Server, tests and clients all derive from this value.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as OpenApi from "@effect/platform/OpenApi"
import { AuditApi } from "./AuditApi.js"
import { AuthApi } from "./AuthApi.js"
import { BookingsApi } from "./BookingsApi.js"
import { CitiesApi } from "./CitiesApi.js"
import { CountriesApi } from "./CountriesApi.js"
import { InternalError, ServiceUnavailable } from "./Errors.js"
import { FacilitiesApi } from "./FacilitiesApi.js"
import { HoldsApi } from "./HoldsApi.js"
import { HotelsApi } from "./HotelsApi.js"
import { ImagesApi } from "./ImagesApi.js"
import { finishDocument } from "./OpenApiDoc.js"
import { RoomsApi } from "./RoomsApi.js"
import { SystemApi } from "./SystemApi.js"
import { UsersApi } from "./UsersApi.js"
import { WebhooksApi } from "./WebhooksApi.js"

export const API_TITLE = "Shum Booking API"
export const API_VERSION = "1.0.3"
const DEFAULT_SERVER = { url: "/", description: "This server" } as const

export class ShumApi extends HttpApi.make("shum")
  .add(SystemApi)
  .add(AuthApi)
  .add(UsersApi)
  .add(HotelsApi)
  .add(RoomsApi)
  .add(BookingsApi)
  .add(FacilitiesApi)
  .add(ImagesApi)
  .add(CountriesApi)
  .add(CitiesApi)
  .add(WebhooksApi)
  .add(HoldsApi)
  .add(AuditApi)
  // Any endpoint may meet a database outage (503, E-91) or an unexpected failure (500, E-92/E-93).
  .addError(InternalError)
  .addError(ServiceUnavailable)
  // Relative to where the document was fetched: this server. With `ROOT_PATH` the server replaces it by the
  // prefix (packages/server/src/HttpLive.ts), so "Try it out" and generated clients call the public path.
  .annotate(OpenApi.Servers, [DEFAULT_SERVER])
  .annotate(OpenApi.Title, API_TITLE)
  .annotate(OpenApi.Version, API_VERSION)
  .annotate(
    OpenApi.Description,
    "Hotel booking: countries, cities, hotels, rooms, facilities, users and bookings. " +
      "Errors are RFC 9457 problem documents (`application/problem+json`) whose `detail` keeps the original " +
      "service's message; request validation failures are 422 with a FastAPI-style list under `detail`.\n\n" +
      "Input limits (D11), each a 422 at the field: no text (body field, query parameter or header) may contain " +
      "a NUL character (U+0000) or an unpaired surrogate; every integer must fit its column, as each field's " +
      "`minimum`/`maximum` states (ids and `facility_ids[]`: −2147483648..2147483647; `price`, `quantity`: " +
      "0..2147483647; `page`: 1..2147483647; `telegram_id`/`pachca_id`: ±9007199254740991); dates are `YYYY-MM-DD` from 0001-01-01 to " +
      "9999-12-31; a stay (booking or availability search) is at most `MAX_STAY_NIGHTS` nights (default 90) and " +
      "begins at most `BOOKING_HORIZON_DAYS` days after today (default 730).\n\n" +
      "A query parameter an operation does not declare is ignored, as the original service ignored it, and named " +
      'in a `Warning` header of the answer (`299 - "unknown query parameter ignored: <name>"`). A create answers ' +
      "the new resource's `id` and its path in `Location` (after `ROOT_PATH` when there is one)."
  )
  .annotate(OpenApi.Transform, finishDocument) {}

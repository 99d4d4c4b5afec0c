/**
 * User accounts (docs/api.md §8.1; docs/decisions.md D1: admin-only listing, "yourself or an admin" for one user).
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { Message } from "./Common.js"
import { Conflict, Forbidden, IntegrityViolation, NotFound, RateLimited, ValidationError } from "./Errors.js"
import { UserIdPath, UsersQuery } from "./Params.js"
import { AdminAuthentication, Authentication } from "./Security.js"
import { User, UserPatch, UserUpdate } from "./Users.js"

const SELF_OR_ADMIN =
  "A user may use this on their own id only; an admin on any (D1; the original let anyone do it). " +
  "Checked before the user's existence, so a non-admin learns nothing about other ids."

export class UsersApi extends HttpApiGroup.make("users")
  .add(
    HttpApiEndpoint.get("list", "/users")
      .setUrlParams(UsersQuery)
      .addSuccess(Schema.Array(User))
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "listUsers")
      .annotate(OpenApi.Summary, "List users")
      .annotate(
        OpenApi.Description,
        "All users, by id, paginated; `email` filters by exact match on the stored address (letter case " +
          "included).\n\n" +
          "Admin only (D1; the original was anonymous)."
      )
  )
  .add(
    HttpApiEndpoint.get("get", "/users/:user_id")
      .setPath(UserIdPath)
      .addSuccess(User)
      .addError(Forbidden)
      .addError(NotFound)
      .addError(ValidationError)
      .middleware(Authentication)
      .annotate(OpenApi.Identifier, "getUser")
      .annotate(OpenApi.Summary, "Get a user")
      .annotate(
        OpenApi.Description,
        `${SELF_OR_ADMIN}\n\nOrder: 401 → 422 → not yourself and not admin → 403 \`Недостаточно прав\` → ` +
          "unknown id → 404 `Пользователь не найден`."
      )
  )
  .add(
    HttpApiEndpoint.put("update", "/users/:user_id")
      .setPath(UserIdPath)
      .setPayload(UserUpdate)
      .addSuccess(Message)
      .addError(Forbidden)
      .addError(NotFound)
      .addError(Conflict)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .middleware(Authentication)
      .annotate(OpenApi.Identifier, "updateUser")
      .annotate(OpenApi.Summary, "Update a user")
      .annotate(
        OpenApi.Description,
        `${SELF_OR_ADMIN}\n\n` +
          "`email` is required; every other field that is absent or `null` keeps its stored value.\n\n" +
          "Order: 401 → 422 (also when `hashed_password` is sent) → not yourself and not admin, or `role` sent by " +
          "a non-admin → 403 `Недостаточно прав` → unknown id → 404 `Пользователь с ID {id} не найден` → " +
          "e-mail changed and taken → 409 `Пользователь с email '<e-mail>' уже существует` → update. An address " +
          "is taken also when it differs from another account's only in letter case (D12).\n\n" +
          "Differs from the original (D1): a new password is sent as `password` (8..72 characters and at most 72 " +
          "bytes in UTF-8, D12) and hashed by the server; the original stored a client-supplied " +
          "`hashed_password` verbatim.\n\n" +
          "Sessions (D13): a new `password` or a different `role` ends every session of that user at once — " +
          "access and refresh tokens issued before the change get 401, the caller's own included; sign in again."
      )
  )
  .add(
    HttpApiEndpoint.patch("patch", "/users/:user_id")
      .setPath(UserIdPath)
      .setPayload(UserPatch)
      .addSuccess(Message)
      .addError(Forbidden)
      .addError(NotFound)
      .addError(Conflict)
      .addError(IntegrityViolation)
      .addError(ValidationError)
      .middleware(Authentication)
      .annotate(OpenApi.Identifier, "patchUser")
      .annotate(OpenApi.Summary, "Partly update a user")
      .annotate(
        OpenApi.Description,
        `${SELF_OR_ADMIN}\n\n` +
          "Writes the fields present; `null` clears a name or an external id. An empty body `{}` answers 200 " +
          "without looking the user up (as the original).\n\n" +
          "Order: 401 → 422 (also for `hashed_password`, and for `null` in `email`, `password` or `role`: D9, " +
          "the original answered 409) → 403 as for PUT → unknown id → 404 `Пользователь с ID {id} не найден` → " +
          "e-mail changed and taken (also in another letter case, D12) → 409 → update. `password`: 8..72 " +
          "characters and at most 72 bytes in UTF-8.\n\n" +
          "Sessions (D13): a new `password` or a different `role` ends every session of that user at once — " +
          "access and refresh tokens issued before the change get 401, the caller's own included; sign in again."
      )
  )
  .add(
    HttpApiEndpoint.del("delete", "/users/:user_id")
      .setPath(UserIdPath)
      .addSuccess(Message)
      .addError(Forbidden)
      .addError(NotFound)
      .addError(ValidationError)
      .middleware(Authentication)
      .annotate(OpenApi.Identifier, "deleteUser")
      .annotate(OpenApi.Summary, "Delete a user")
      .annotate(
        OpenApi.Description,
        `${SELF_OR_ADMIN}\n\nOrder: 401 → 422 → 403 → unknown id → 404 \`Пользователь не найден\` → delete. ` +
          "The user's bookings, holds and refresh tokens go with them (nights and held units freed); their access " +
          "tokens then get 401 (D13). Webhook events: `booking.cancelled` for each confirmed booking, " +
          '`hold.released` / `hold.expired` for each active hold, `reason: "user_deleted"` (D16).'
      )
  )
  .addError(RateLimited)
  .annotate(OpenApi.Title, "Пользователи")
  .annotate(
    OpenApi.Description,
    "User accounts. Listing is for admins; one account can be read, changed or deleted by its owner or an admin."
  ) {}

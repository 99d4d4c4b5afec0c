/**
 * docs/decisions.md D15: a create's answer says where the new resource is. `Location` is the resource's path
 * after `ROOT_PATH` (`/apps/shum-booking/hotels/7`, or `/hotels/7` without a prefix): a path the client
 * can call as it is, through the proxy that strips the prefix or directly (`RequestContext.ts` answers
 * prefixed paths too). A path rather than an absolute URL: the service does not know the public host.
 */
import { Created } from "@shum/domain/Common"
import { AppConfig } from "@shum/infra/Config"
import { Effect } from "effect"
import { setLaterHeaders } from "./RequestContext.js"

/** Sets `Location` on this request's response: `path` (e.g. `/hotels/7`) after `ROOT_PATH`. */
export type Locate = (path: string) => Effect.Effect<void>

/**
 * `Locate` for the configured `ROOT_PATH`; a group's handlers take it when they are built. `Location` is set after
 * every other header of the answer (`setLaterHeaders`: kept in the request's state, which the pipeline's
 * pre-response handler sets last, instead of a pre-response handler appended per answer).
 */
export const locateCreated: Effect.Effect<Locate, never, AppConfig> = Effect.map(
  AppConfig,
  ({ http }) =>
    (path) =>
      setLaterHeaders({ location: `${http.rootPath}${path}` })
)

/**
 * A create's answer: `{"status": "OK", "id"}` with `Location` = `pathOf(id)` after `ROOT_PATH`
 * (`Effect.pipe(created(locate, (id) => `/hotels/${id}`))` on an effect giving the new id, `locate` taken from
 * `locateCreated` when the group is built, so a call reads no service).
 */
export const created =
  (locate: Locate, pathOf: (id: number) => string) =>
  <E, R>(self: Effect.Effect<number, E, R>): Effect.Effect<Created, E, R> =>
    Effect.flatMap(self, (id) => Effect.as(locate(pathOf(id)), Created.of(id)))

/**
 * The stay of both availability searches (docs/api.md H2, R2), checked before anything is read.
 */
import { InvalidDateRange } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { Effect } from "effect"
import type { StayLimits } from "../Bookings/StayLimits.js"

/** E-40: `date_from` must be before `date_to` (`YYYY-MM-DD` compares as text). */
const ensurePeriod = (from: string, to: string) =>
  from < to ? Effect.void : Effect.fail(new InvalidDateRange({ detail: Messages.periodInvalid }))

/**
 * Both searches: the stay limits of bookings (422, docs/decisions.md D11: `MAX_STAY_NIGHTS`,
 * `BOOKING_HORIZON_DAYS`), then E-40 (400).
 */
export const ensureSearchPeriod = (
  limits: StayLimits,
  stay: { readonly date_from: string; readonly date_to: string }
) => Effect.zipRight(limits.check(stay, "query"), ensurePeriod(stay.date_from, stay.date_to))

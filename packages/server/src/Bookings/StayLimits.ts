/**
 * Bounded work per stay (docs/decisions.md D11): a booking, and either availability search, covers at most
 * `MAX_STAY_NIGHTS` nights and begins at most `BOOKING_HORIZON_DAYS` days after today (UTC). Beyond either
 * limit the request is a 422 located at the date — `date_to` for the length, `date_from` for the start —
 * whose `msg` names the limit; nothing is read or written first. (The original took any range: one booking
 * of `2027-01-01 → 9999-12-31` wrote millions of inventory rows while the room's other bookings waited.)
 *
 * The limits come from the configuration, so they are checked here rather than in the request schemas.
 * A stay that is empty or reversed is not this module's concern (400, as before); a search may look at past
 * nights (bounded by the length all the same).
 */
import type { ValidationIssue } from "@shum/domain/Errors"
import { ValidationError } from "@shum/domain/Errors"
import { AppConfig } from "@shum/infra/Config"
import { DateTime, Effect } from "effect"

const DAY_MS = 86_400_000

/** Whole days from `from` to `to`, both `YYYY-MM-DD`. */
const daysBetween = (from: string, to: string): number =>
  Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS)

export interface Stay {
  readonly date_from: string
  readonly date_to: string
}

/** Where the dates came from: a booking's body or a search's query string. */
export type StayLocation = "body" | "query"

export interface StayLimitsSettings {
  readonly maxNights: number
  readonly horizonDays: number
}

/** The problems of a stay under these limits, as of `today` (UTC, `YYYY-MM-DD`); empty when it is within them. */
const stayLimitIssues = (
  limits: StayLimitsSettings,
  today: DateTime.Utc,
  stay: Stay,
  location: StayLocation
): Array<ValidationIssue> => {
  const issues: Array<ValidationIssue> = []
  const latest = DateTime.formatIsoDateUtc(DateTime.add(today, { days: limits.horizonDays }))
  if (stay.date_from > latest) {
    issues.push({
      type: "value_error",
      loc: [location, "date_from"],
      msg:
        `Value error, a stay begins at most ${limits.horizonDays} days after today ` +
        `(BOOKING_HORIZON_DAYS): ${latest} at the latest`,
      input: stay.date_from,
      ctx: { booking_horizon_days: limits.horizonDays, latest }
    })
  }
  const nights = daysBetween(stay.date_from, stay.date_to)
  if (nights > limits.maxNights) {
    issues.push({
      type: "value_error",
      loc: [location, "date_to"],
      msg: `Value error, a stay is at most ${limits.maxNights} nights (MAX_STAY_NIGHTS); this one is ${nights}`,
      input: stay.date_to,
      ctx: { max_stay_nights: limits.maxNights }
    })
  }
  return issues
}

export class StayLimits extends Effect.Service<StayLimits>()("server/StayLimits", {
  effect: Effect.map(AppConfig, ({ stays }) => {
    const settings: StayLimitsSettings = stays
    /** Fails with the 422 when the stay is beyond a limit. */
    const check = (stay: Stay, location: StayLocation): Effect.Effect<void, ValidationError> =>
      Effect.flatMap(DateTime.now, (now) => {
        const detail = stayLimitIssues(settings, now, stay, location)
        return detail.length === 0 ? Effect.void : Effect.fail(new ValidationError({ detail }))
      })
    return { settings, check } as const
  })
}) {}

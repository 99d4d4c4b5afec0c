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
import { Clock, Effect } from "effect"

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

/** `YYYY-MM-DD` (UTC) of an instant in epoch milliseconds, as `DateTime.formatIsoDateUtc` writes it. */
export const isoDateUtc = (epochMillis: number): string => new Date(epochMillis).toISOString().slice(0, 10)

/**
 * The problems of a stay under these limits at `nowMillis` (the clock's epoch milliseconds); empty when it is
 * within them. The latest start is `BOOKING_HORIZON_DAYS` whole days after now, in UTC — what
 * `DateTime.add(now, { days })` gives, computed on the number (a `DateTime` per request was measurable on the
 * booking's path: bench/README.md, "The booking's own path").
 */
const stayLimitIssues = (
  limits: StayLimitsSettings,
  nowMillis: number,
  stay: Stay,
  location: StayLocation
): Array<ValidationIssue> => {
  const issues: Array<ValidationIssue> = []
  const latest = isoDateUtc(nowMillis + limits.horizonDays * DAY_MS)
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
    /** The 422 of a stay beyond a limit at `nowMillis` (the clock's epoch milliseconds), or `undefined`. */
    const refusalAt = (stay: Stay, location: StayLocation, nowMillis: number): ValidationError | undefined => {
      const detail = stayLimitIssues(settings, nowMillis, stay, location)
      return detail.length === 0 ? undefined : new ValidationError({ detail })
    }
    /** Fails with the 422 when the stay is beyond a limit. */
    const check = (stay: Stay, location: StayLocation): Effect.Effect<void, ValidationError> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const refusal = refusalAt(stay, location, now)
        return refusal === undefined ? Effect.void : Effect.fail(refusal)
      })
    return { settings, check, refusalAt } as const
  })
}) {}

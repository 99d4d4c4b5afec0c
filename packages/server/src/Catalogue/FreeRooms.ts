/**
 * The stay of both availability searches (docs/api.md H2, R2), checked before anything is read.
 */
import { InvalidDateRange } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { Effect } from "effect"

/** E-40: `date_from` must be before `date_to` (`YYYY-MM-DD` compares as text). */
export const ensurePeriod = (from: string, to: string) =>
  from < to ? Effect.void : Effect.fail(new InvalidDateRange({ detail: Messages.periodInvalid }))

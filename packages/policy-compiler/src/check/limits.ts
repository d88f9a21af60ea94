/**
 * `limits` (a partner's, or the Defaults' for every partner): each a whole number within reason.
 * Zero is refused rather than read as "hold all mail": holding mail is `queue hold`, an operator
 * action with an audit line, not a policy number that looks like a typo.
 */
import type { Diagnostic } from "../diagnostic"
import type { ParsedFile } from "../source/parse"
import type { LimitsSource } from "../source/schema"
import { diagnosticAt } from "../source/validate"

/** Upper bounds: far above any agreement, low enough to catch a misplaced unit or extra digits. */
export const LIMIT_MAXIMUM = { messagesPerMinute: 100_000, connections: 1_000 } as const

const FIELDS = ["messagesPerMinute", "connections"] as const

export const checkLimits = (file: ParsedFile, limits: LimitsSource | undefined): Array<Diagnostic> =>
  FIELDS.flatMap((field) => {
    const value = limits?.[field]
    if (value === undefined) return []
    const maximum = LIMIT_MAXIMUM[field]
    if (Number.isInteger(value) && value >= 1 && value <= maximum) return []
    return [
      diagnosticAt(
        file,
        ["limits", field],
        "LIMIT-INVALID",
        `limits.${field} ${value} is not a whole number from 1 to ${maximum}`,
        field === "connections"
          ? "write the number of simultaneous SMTP sessions the agreement allows, e.g. connections: 2; omit it for no limit"
          : "write the messages per minute the agreement allows, e.g. messagesPerMinute: 60; omit it for no limit",
      ),
    ]
  })

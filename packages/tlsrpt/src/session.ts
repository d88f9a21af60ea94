/**
 * One outbound TLS session as TLS reporting counts it (RFC 8460 §4.4): the recipient domain, the
 * policy that applied to it, and its result — success, or the failure detail (without the count,
 * which the counters add). `id` is unique per session: the fleet's counters take each id once.
 */
import type { FailureDetail, ReportPolicy } from "./report"

export type SessionFailure = Omit<FailureDetail, "failed-session-count">

export interface TlsSession {
  readonly id: string
  /** The recipient (policy) domain, lower case. */
  readonly domain: string
  /** When the session was attempted, ms since the epoch (decides the UTC day). */
  readonly at: number
  readonly policy: ReportPolicy
  /** undefined: the session negotiated TLS as the policy asks. */
  readonly failure: SessionFailure | undefined
}

const DAY = 86_400_000

/** The UTC day of `at` as `YYYY-MM-DD`. */
export const utcDay = (at: number): string => new Date(Math.floor(at / DAY) * DAY).toISOString().slice(0, 10)

/** The day's first and last second as RFC 3339 (the report's date-range). */
export const dayRange = (day: string): { readonly start: number; readonly end: number } => {
  const start = Date.parse(`${day}T00:00:00Z`)
  return { start, end: start + DAY - 1000 }
}

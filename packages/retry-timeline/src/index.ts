/**
 * The retry timeline: a pure function of (queuedAt, retry policy). Every attempt time, the
 * delay-warning time and the expiry time are fixed when a message is queued, so an operator
 * can tell a sender exactly when the next attempt happens and a test can check each one.
 * No random jitter: a mass outage is already spread by the messages' own queue times.
 *
 * Points: queuedAt, then the `schedule` gaps one after another, then `every` until the expiry.
 * `warnAt` and `expireAt` are timeline points themselves, so the warning goes out on time and
 * the last attempt happens exactly at the expiry (its failure produces the NDR).
 */
import type { RetryPolicy } from "@mailconnect/policy"

export interface Timeline {
  readonly queuedAt: number
  /** Absolute epoch milliseconds, ascending, first = queuedAt, last = expireAt. */
  readonly attempts: ReadonlyArray<number>
  readonly warnAt: number
  readonly expireAt: number
}

/** Upper bound on points, so a misconfigured `every: 1s` with `expireAfter: 1y` stays finite. */
const MAX_POINTS = 100_000

export const computeTimeline = (queuedAt: number, retry: RetryPolicy): Timeline => {
  const expireAt = queuedAt + retry.expireAfter
  const warnAt = Math.min(queuedAt + retry.warnAfter, expireAt)
  const points = new Set<number>([queuedAt])
  let t = queuedAt
  for (const gap of retry.schedule) {
    t += Math.max(1, gap)
    if (t >= expireAt) break
    points.add(t)
  }
  const every = Math.max(1, retry.every)
  while (t + every < expireAt && points.size < MAX_POINTS) {
    t += every
    points.add(t)
  }
  points.add(warnAt)
  points.add(expireAt)
  return { queuedAt, attempts: [...points].sort((a, b) => a - b), warnAt, expireAt }
}

/** The first timeline point strictly after `now`, or undefined once the expiry has passed. */
export const nextAttemptAfter = (timeline: Timeline, now: number): number | undefined => {
  const { attempts } = timeline
  let lo = 0
  let hi = attempts.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (attempts[mid]! <= now) lo = mid + 1
    else hi = mid
  }
  return attempts[lo]
}

export type AttemptVerdict =
  /** Try again at `at`; `warn` is true when this failure is the first one at or past warnAt. */
  | { readonly _tag: "Retry"; readonly at: number; readonly warn: boolean }
  /** Give up: the expiry has been reached. */
  | { readonly _tag: "Expire" }

/**
 * What a temporary failure at `now` leads to. `warned` says whether the delay warning was
 * already sent, so it goes out exactly once.
 *
 * The next point is strictly after both `now` and `scheduledAt` — the point this attempt ran for
 * (default: queuedAt, the first). `now` is the attempting relay's clock, which may be minutes
 * behind the clock that stamped queuedAt: alone it would pick a point already passed (queuedAt
 * itself for a fresh message) and retry at once, off the timeline. Passing the job's
 * `nextAttemptAt` as `scheduledAt` keeps later retries on it too.
 */
export const afterTemporaryFailure = (
  timeline: Timeline,
  now: number,
  warned: boolean,
  scheduledAt: number = timeline.queuedAt,
): AttemptVerdict => {
  const next = nextAttemptAfter(timeline, Math.max(now, scheduledAt))
  if (now >= timeline.expireAt || next === undefined) return { _tag: "Expire" }
  return { _tag: "Retry", at: next, warn: !warned && now >= timeline.warnAt }
}

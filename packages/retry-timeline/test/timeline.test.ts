import type { RetryPolicy } from "@mailconnect/policy"
import { describe, expect, it } from "vitest"
import { afterTemporaryFailure, computeTimeline, nextAttemptAfter } from "../src"

const m = 60_000
const h = 60 * m
const d = 24 * h
const defaults: RetryPolicy = {
  schedule: [5 * m, 10 * m, 20 * m, 40 * m],
  every: h,
  warnAfter: 4 * h,
  expireAfter: 10 * d,
}
const t0 = Date.UTC(2026, 10, 28, 9, 0, 0)

describe("retry timeline", () => {
  const timeline = computeTimeline(t0, defaults)

  it("starts with the schedule gaps, then every hour", () => {
    expect(timeline.attempts.slice(0, 8).map((t) => (t - t0) / m)).toEqual([0, 5, 15, 35, 75, 135, 195, 240])
    expect((timeline.attempts[8]! - t0) / m).toBe(255)
  })

  it("has the warning and the expiry as points, and nothing after the expiry", () => {
    expect(timeline.warnAt).toBe(t0 + 4 * h)
    expect(timeline.attempts).toContain(timeline.warnAt)
    expect(timeline.expireAt).toBe(t0 + 10 * d)
    expect(timeline.attempts.at(-1)).toBe(timeline.expireAt)
    // queuedAt, 4 scheduled, hourly from 75 min while before 10 d (238), the warning, the expiry
    expect(timeline.attempts.length).toBe(1 + 4 + 238 + 1 + 1)
  })

  it("is strictly ascending and depends only on its inputs", () => {
    for (let i = 1; i < timeline.attempts.length; i++)
      expect(timeline.attempts[i]!).toBeGreaterThan(timeline.attempts[i - 1]!)
    expect(computeTimeline(t0, defaults)).toEqual(timeline)
  })

  it("finds the next point strictly after now", () => {
    expect(nextAttemptAfter(timeline, t0)).toBe(t0 + 5 * m)
    expect(nextAttemptAfter(timeline, t0 + 5 * m - 1)).toBe(t0 + 5 * m)
    expect(nextAttemptAfter(timeline, t0 + 5 * m)).toBe(t0 + 15 * m)
    expect(nextAttemptAfter(timeline, timeline.expireAt)).toBeUndefined()
  })

  it("warns once, on the first failure at or past the warning time", () => {
    expect(afterTemporaryFailure(timeline, t0 + 195 * m, false)).toEqual({
      _tag: "Retry",
      at: t0 + 240 * m,
      warn: false,
    })
    expect(afterTemporaryFailure(timeline, t0 + 240 * m, false)).toEqual({
      _tag: "Retry",
      at: t0 + 255 * m,
      warn: true,
    })
    expect(afterTemporaryFailure(timeline, t0 + 255 * m, true)).toEqual({
      _tag: "Retry",
      at: t0 + 315 * m,
      warn: false,
    })
  })

  it("never picks a point at or before the one this attempt ran for (a relay whose clock is behind)", () => {
    // A relay 4 min behind the one that queued the message fails its first attempt.
    expect(afterTemporaryFailure(timeline, t0 - 4 * m, false)).toEqual({
      _tag: "Retry",
      at: t0 + 5 * m,
      warn: false,
    })
    // Its attempt for the 15 min point, by its clock still at 11 min: the next point is 35 min.
    expect(afterTemporaryFailure(timeline, t0 + 11 * m, false, t0 + 15 * m)).toEqual({
      _tag: "Retry",
      at: t0 + 35 * m,
      warn: false,
    })
    // A relay ahead: its own clock decides when it is later than the scheduled point.
    expect(afterTemporaryFailure(timeline, t0 + 16 * m, false, t0 + 15 * m)).toEqual({
      _tag: "Retry",
      at: t0 + 35 * m,
      warn: false,
    })
  })

  it("expires at the expiry point", () => {
    expect(afterTemporaryFailure(timeline, timeline.expireAt, true)).toEqual({ _tag: "Expire" })
  })

  it("supports a partner override measured in seconds", () => {
    const s = 1000
    const short = computeTimeline(t0, {
      schedule: [2 * s],
      every: 3 * s,
      warnAfter: 4 * s,
      expireAfter: 10 * s,
    })
    expect(short.attempts.map((t) => (t - t0) / s)).toEqual([0, 2, 4, 5, 8, 10])
  })

  it("keeps the expiry when the warning would come after it", () => {
    const odd = computeTimeline(t0, { schedule: [], every: h, warnAfter: 20 * d, expireAfter: 2 * h })
    expect(odd.warnAt).toBe(odd.expireAt)
    expect(odd.attempts.map((t) => (t - t0) / h)).toEqual([0, 1, 2])
  })
})

/** How a rate per minute is counted in a shorter window: the same rate, never a higher one. */
import { describe, expect, it } from "vitest"
import { countingWindow } from "../src"

describe("countingWindow", () => {
  it("counts exactly the agreement's number in the default minute", () => {
    expect(countingWindow(60, 60_000)).toEqual({ messages: 60, windowMs: 60_000 })
  })

  it.each([
    [120, 1_000, { messages: 2, windowMs: 1_000 }],
    [60, 1_000, { messages: 1, windowMs: 1_000 }],
    // Fewer than one message a second: one message, in a longer window.
    [30, 1_000, { messages: 1, windowMs: 2_000 }],
    // 1.5 a second: one per 667 ms (rounded up: a little under the rate, never over).
    [90, 1_000, { messages: 1, windowMs: 667 }],
  ])("%i/min in a %i ms window", (perMinute, windowMs, expected) => {
    const counted = countingWindow(perMinute, windowMs)
    expect(counted).toEqual(expected)
    expect((counted.messages * 60_000) / counted.windowMs).toBeLessThanOrEqual(perMinute)
  })
})

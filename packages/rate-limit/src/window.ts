/**
 * A rate in messages per minute as the limiter counts it: `messages` in any sliding `windowMs`.
 * With the default 60 s window that is exactly the agreement's number. A shorter window (to smooth
 * bursts, or to keep tests short) holds the same rate: as many messages as fit in it, at least one,
 * and the window stretched (rounded up, never down) so that messages / window stays the rate.
 */
export interface CountingWindow {
  readonly messages: number
  readonly windowMs: number
}

const MINUTE_MS = 60_000

export const countingWindow = (messagesPerMinute: number, windowMs: number): CountingWindow => {
  const messages = Math.max(1, Math.floor((messagesPerMinute * windowMs) / MINUTE_MS))
  return { messages, windowMs: Math.ceil((messages * MINUTE_MS) / messagesPerMinute) }
}

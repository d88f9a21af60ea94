import { Data } from "effect"

/** Redis did not answer the limiter: whether a partner's limit is reached is unknown. */
export class RateLimitUnavailable extends Data.TaggedError("RateLimitUnavailable")<{
  readonly partner: string
  readonly reason: "unavailable" | "timeout" | "reply"
  readonly detail: string
}> {}

/** The message trace's failures, as tagged values. */
import { Data } from "effect"

/** Redis did not take or answer a trace command (`operation` says which). */
export class TraceUnavailable extends Data.TaggedError("TraceUnavailable")<{
  readonly operation: "record" | "search" | "show"
  readonly reason: "unavailable" | "timeout" | "reply"
  readonly detail: string
}> {}

import { Data } from "effect"

/** A heartbeat in Redis that does not decode (written by something else, or corrupted). */
export class HeartbeatUnreadable extends Data.TaggedError("HeartbeatUnreadable")<{
  readonly key: string
  readonly detail: string
}> {}

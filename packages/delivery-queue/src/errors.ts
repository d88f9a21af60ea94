import { Data } from "effect"

/** Redis (spool or queue) could not take or give the data: the caller answers 4xx, never 250. */
export class QueueUnavailable extends Data.TaggedError("QueueUnavailable")<{
  readonly operation: string
  readonly detail: string
}> {}

/** A message body that should be in the spool is not (expired safety TTL, or manual deletion). */
export class SpoolMissing extends Data.TaggedError("SpoolMissing")<{ readonly messageId: string }> {}

/** `queue show` for a message id the queue does not know (never queued, or long finished). */
export class MessageUnknown extends Data.TaggedError("MessageUnknown")<{ readonly messageId: string }> {}

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

/**
 * This process is configured for another shard count (`REDIS_SHARDS`) than the fleet's layout
 * recorded in Redis: it would queue mail into shards the others never read, or miss theirs.
 */
export class ShardLayoutMismatch extends Data.TaggedError("ShardLayoutMismatch")<{
  readonly recorded: number
  readonly configured: number
  readonly key: string
}> {
  override get message() {
    return `REDIS_SHARDS=${this.configured}, but the fleet's layout in Redis (${this.key}) is ${this.recorded} shard(s): set REDIS_SHARDS=${this.recorded} (or leave it unset to take it from Redis); docs/scaling.md says how to grow a fleet's shards`
  }
}

import type { RedisKeys } from "@mailconnect/redis-client"

/** Redis layout of policy distribution; all under the prefix hash tag (one Cluster slot). */
export interface PolicyKeys {
  /** Hash `{serial, digest, schema, publishedAt}`: the bundle in force. */
  readonly current: string
  /** Envelope bytes, by digest (`sha256:<hex>`); kept for audit and rollback-by-republish. */
  readonly bundle: (digest: string) => string
  /** Pub/sub channel; messages are `{"serial":N,"digest":"…"}` notices, never bundle bytes. */
  readonly channel: string
  /**
   * Hash `{serial, digest}`: the highest serial any relay has activated (anti-rollback floor for
   * relays without a disk copy). Only ever raised, by a compare-and-raise script; a relay trusts it
   * only as far as the signed bundle under `digest` vouches for `serial`, and never lowers its own.
   */
  readonly floor: string
  /** List of published pointers (JSON, newest first, bounded): the publish history. */
  readonly history: string
}

export const policyKeys = (keys: RedisKeys): PolicyKeys => ({
  current: keys.key("policy", "current"),
  bundle: (digest) => keys.key("policy", "bundle", digest),
  channel: keys.key("policy", "announce"),
  floor: keys.key("policy", "floor"),
  history: keys.key("policy", "history"),
})

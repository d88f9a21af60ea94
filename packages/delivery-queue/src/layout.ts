/**
 * `QueueLayout`: how many shards the delivery queue and the spool have, one fleet-wide fact kept
 * in Redis at `{prefix}:layout:shards`. Shard 0 is the `{prefix}` tag (a fleet from before
 * sharding keeps its mail there), shard i the `{prefix:i}` tag; a message's shard is derived from
 * its id (`shardOf`), each shard has its own BullMQ queue and spool keys under its tag, so every
 * multi-key command and script stays within one Cluster slot.
 *
 * `REDIS_SHARDS` given: recorded when the fleet has no layout yet; a different recorded value
 * refuses the start (`ShardLayoutMismatch`). Unset: the recorded value, else 1. A Redis that cannot
 * be reached at start does not stop the process (a relay starts on its last-known-good bundle and
 * answers 451 meanwhile): it runs with the configured count (else 1) and checks again in the
 * background once Redis answers, logging an error on a mismatch.
 *
 * Trusts: the Redis named by REDIS_URL. Touches: `{prefix}:layout:shards` (written once, SET NX).
 */
import { RedisClient, RedisConnectionFactory, shardOf, shardTag } from "@mailconnect/redis-client"
import { Context, Effect, Layer, Option, Schedule } from "effect"
import { ShardLayoutMismatch } from "./errors"

export interface QueueLayoutShape {
  readonly shards: number
  /** 0 … shards-1. */
  readonly all: ReadonlyArray<number>
  /** The shard's hash tag: its queue's BullMQ prefix and its spool keys' first part. */
  readonly tagOf: (shard: number) => string
  /** `key(2, "spool", id)` → `{mc:2}:spool:<id>`. */
  readonly key: (shard: number, ...parts: ReadonlyArray<string>) => string
  readonly shardOf: (messageId: string) => number
  /**
   * Where to look for a message by id: its own shard first, then the others (mail a fleet queued
   * before it grew its shard count sits in a lower shard than its id now says).
   */
  readonly lookupOrder: (messageId: string) => ReadonlyArray<number>
}

export const makeLayout = (prefix: string, shards: number): QueueLayoutShape => {
  const all = Array.from({ length: shards }, (_, i) => i)
  const tags = all.map((i) => shardTag(prefix, i))
  return {
    shards,
    all,
    tagOf: (shard) => tags[shard]!,
    key: (shard, ...parts) => [tags[shard]!, ...parts].join(":"),
    shardOf: (messageId) => shardOf(messageId, shards),
    lookupOrder: (messageId) => {
      const own = shardOf(messageId, shards)
      return [own, ...all.filter((i) => i !== own)]
    },
  }
}

const decide = (
  key: string,
  recorded: Option.Option<string>,
  configured: number | undefined,
): { readonly shards: number; readonly record: boolean } | ShardLayoutMismatch => {
  if (Option.isNone(recorded)) return { shards: configured ?? 1, record: configured !== undefined }
  const n = Number(recorded.value)
  if (configured !== undefined && configured !== n)
    return new ShardLayoutMismatch({ recorded: n, configured, key })
  return { shards: n, record: false }
}

export class QueueLayout extends Context.Tag("@mailconnect/QueueLayout")<QueueLayout, QueueLayoutShape>() {
  static layer = Layer.scoped(
    QueueLayout,
    Effect.gen(function* () {
      const factory = yield* RedisConnectionFactory
      const configured = factory.config.shards
      const key = factory.keys.key("layout", "shards")
      /**
       * Reads (and when it is ours to, records) the layout, on the process's command connection or
       * one closed right after; fails on a mismatch.
       */
      const shared = yield* Effect.serviceOption(RedisClient)
      const settle = Effect.gen(function* () {
        // The process's command connection when it has one (already open: no start-up delay).
        const redis = Option.isSome(shared)
          ? shared.value
          : yield* RedisClient.connect({
              purpose: "layout",
              maxRetriesPerRequest: 1,
              commandTimeoutMs: 5_000,
            })
        const decided = decide(key, yield* redis.get(key), configured)
        if (decided instanceof ShardLayoutMismatch) return yield* decided
        if (!decided.record) return decided.shards
        // Two relays starting at once: SET NX lets one of them record, the other re-reads.
        const set = yield* redis.call("SET", key, String(decided.shards), "NX")
        if (set === "OK") return decided.shards
        const again = decide(key, yield* redis.get(key), configured)
        if (again instanceof ShardLayoutMismatch) return yield* again
        return again.shards
      }).pipe(Effect.scoped)
      const first = yield* settle.pipe(Effect.either)
      if (first._tag === "Right") return makeLayout(factory.config.prefix, first.right)
      if (first.left._tag === "ShardLayoutMismatch") return yield* first.left
      // Redis away at start: go on with what we are told, check once it answers.
      const assumed = configured ?? 1
      yield* Effect.logWarning("shard layout not readable yet; checked again once Redis answers").pipe(
        Effect.annotateLogs({ assumed, error: first.left.detail }),
      )
      yield* Effect.forkScoped(
        settle.pipe(
          Effect.retry({
            while: (e) => e._tag !== "ShardLayoutMismatch",
            schedule: Schedule.spaced("2 seconds"),
          }),
          Effect.flatMap((shards) =>
            shards === assumed
              ? Effect.void
              : Effect.logError("this process runs with another shard count than the fleet's layout").pipe(
                  Effect.annotateLogs({ assumed, recorded: shards }),
                ),
          ),
          Effect.catchAll((e) => Effect.logError(e.message)),
        ),
      )
      return makeLayout(factory.config.prefix, assumed)
    }),
  )

  /** A fixed layout (tests, tools that know it). */
  static fixed = (prefix: string, shards: number) => Layer.succeed(QueueLayout, makeLayout(prefix, shards))
}

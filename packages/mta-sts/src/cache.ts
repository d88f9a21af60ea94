/**
 * The fleet's shared policy cache in Redis (one hash tag, so both keys of a domain share a slot):
 *
 * - `{prefix}:mta-sts:<domain>` — JSON `{ id, policy: { mode, mx, maxAge }, fetchedAt, expiresAt }`
 *   (epoch ms by Effect's Clock), expiring with the policy;
 * - `{prefix}:mta-sts:<domain>:fetch-failed` — JSON `{ id, until, reason }`: a fetch of that id
 *   failed, not retried before `until` (RFC 8461 §3.3 suggests five minutes per id).
 *
 * A value that does not decode is treated as absent (and overwritten by the next good fetch).
 */
import type { RedisClient, RedisCommandError } from "@mailconnect/redis-client"
import { Effect, Option, Schema } from "effect"

const PolicySchema = Schema.Struct({
  mode: Schema.Literal("enforce", "testing", "none"),
  mx: Schema.Array(Schema.String),
  maxAge: Schema.Number,
})

const CachedPolicySchema = Schema.Struct({
  id: Schema.String,
  policy: PolicySchema,
  fetchedAt: Schema.Number,
  expiresAt: Schema.Number,
})

const FetchBackoffSchema = Schema.Struct({
  id: Schema.String,
  until: Schema.Number,
  reason: Schema.String,
})

export type CachedPolicy = typeof CachedPolicySchema.Type
export type FetchBackoff = typeof FetchBackoffSchema.Type

const decodePolicy = Schema.decodeUnknownOption(Schema.parseJson(CachedPolicySchema))
const decodeBackoff = Schema.decodeUnknownOption(Schema.parseJson(FetchBackoffSchema))

export interface CacheEntry {
  readonly cached: Option.Option<CachedPolicy>
  readonly backoff: Option.Option<FetchBackoff>
}

export interface PolicyCache {
  readonly read: (domain: string) => Effect.Effect<CacheEntry, RedisCommandError>
  /** Stores a freshly fetched policy (and clears any backoff); one still valid at `now` only. */
  readonly store: (domain: string, entry: CachedPolicy, now: number) => Effect.Effect<void, RedisCommandError>
  readonly backOff: (
    domain: string,
    backoff: FetchBackoff,
    now: number,
  ) => Effect.Effect<void, RedisCommandError>
}

export const makePolicyCache = (redis: RedisClient["Type"]): PolicyCache => {
  const policyKey = (domain: string) => redis.keys.key("mta-sts", domain)
  const backoffKey = (domain: string) => redis.keys.key("mta-sts", domain, "fetch-failed")
  return {
    read: (domain) =>
      redis.mget([policyKey(domain), backoffKey(domain)]).pipe(
        Effect.map(([policy, backoff]) => ({
          cached: policy == null ? Option.none() : decodePolicy(policy),
          backoff: backoff == null ? Option.none() : decodeBackoff(backoff),
        })),
      ),
    store: (domain, entry, now) =>
      entry.expiresAt <= now
        ? Effect.void
        : redis
            .batch([
              ["SET", policyKey(domain), JSON.stringify(entry), "PX", entry.expiresAt - now],
              ["DEL", backoffKey(domain)],
            ])
            .pipe(Effect.asVoid),
    backOff: (domain, backoff, now) =>
      backoff.until <= now
        ? Effect.void
        : redis.set(backoffKey(domain), JSON.stringify(backoff), backoff.until - now),
  }
}

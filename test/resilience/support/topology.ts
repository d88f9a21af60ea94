/**
 * A relay stack whose relays talk to a Redis of the test's choosing (Cluster, Sentinel, an AOF
 * server that gets killed…), selected only by `REDIS_URL`. Reuses the relay stack (partner lab,
 * certificates, users, relay processes) and publishes signed bundles to that Redis.
 */
import { signBundle } from "@mailconnect/bundle"
import type { ScenarioName } from "@mailconnect/partner-lab"
import { type BundlePayload, CURRENT_SCHEMA, type PolicySet } from "@mailconnect/policy"
import { buildIndex } from "@mailconnect/policy-compiler"
import { PolicyStore, publishBundle } from "@mailconnect/policy-store"
import { parseRedisUrl, RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import { type SmtpRelay, type Stack, startStack } from "@mailconnect/test-support"
import { Effect, Either, Layer } from "effect"

export interface TopologyStack {
  readonly stack: Stack
  readonly redisUrl: string
  readonly prefix: string
  readonly publish: (policy: PolicySet, serial: number) => Promise<void>
  /** Runs an effect with a command client on the chosen Redis (same prefix as the relays). */
  readonly withRedis: <A, E>(effect: Effect.Effect<A, E, RedisClient>) => Promise<A>
  readonly startRelay: (id: string, env?: Record<string, string>) => Promise<SmtpRelay>
}

export const signedBundle = (stack: Stack, policy: PolicySet, serial: number): string => {
  const payload: BundlePayload = {
    schema: CURRENT_SCHEMA,
    serial,
    createdAt: new Date().toISOString(),
    source: { commit: `resilience-${serial}` },
    policy,
    index: buildIndex(policy),
  }
  return signBundle(payload, [stack.lab.signer.signing])
}

export const withRedisAt =
  (redisUrl: string, prefix: string) =>
  <A, E>(effect: Effect.Effect<A, E, RedisClient>): Promise<A> =>
    Effect.runPromise(
      effect.pipe(
        Effect.scoped,
        Effect.provide(
          RedisClient.layerWith({ commandTimeoutMs: 5_000 }).pipe(
            Layer.provideMerge(
              RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(redisUrl, prefix))),
            ),
          ),
        ),
      ),
    )

export interface TopologyOptions {
  /** Reuse a running stack (its partner lab, certificates and signer) instead of starting one. */
  readonly stack?: Stack
  readonly scenarios?: ReadonlyArray<ScenarioName>
  /** Key prefix of this topology's relays; default the stack's. */
  readonly prefix?: string
}

export const topologyStack = async (
  redisUrl: string,
  options: TopologyOptions = {},
): Promise<TopologyStack> => {
  const stack = options.stack ?? (await startStack(options.scenarios ?? []))
  const prefix = options.prefix ?? stack.lab.prefix
  const withRedis = withRedisAt(redisUrl, prefix)
  return {
    stack,
    redisUrl,
    prefix,
    withRedis,
    publish: async (policy, serial) => {
      const bytes = signedBundle(stack, policy, serial)
      await withRedis(
        publishBundle({ bytes, trusted: [stack.lab.signer.trusted], readers: [], force: false }).pipe(
          Effect.provide(PolicyStore.layer),
        ),
      )
    },
    startRelay: (id, env = {}) => stack.startRelay(id, { REDIS_URL: redisUrl, REDIS_PREFIX: prefix, ...env }),
  }
}

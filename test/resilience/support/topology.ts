/**
 * A relay stack whose relays talk to a Redis of the test's choosing (Cluster, Sentinel, an AOF
 * server that gets killed…), selected only by `REDIS_URL`. Reuses the relay stack (partner lab,
 * certificates, users, relay processes) and publishes signed bundles to that Redis.
 */
import type { ScenarioName } from "@mailconnect/partner-lab"
import type { PolicySet } from "@mailconnect/policy"
import type { RedisClient } from "@mailconnect/redis-client"
import {
  publishSigned,
  redisLayer,
  type SmtpRelay,
  type Stack,
  signedPolicy,
  startStack,
} from "@mailconnect/test-support"
import { Effect } from "effect"

export interface TopologyStack {
  readonly stack: Stack
  readonly redisUrl: string
  readonly prefix: string
  readonly publish: (policy: PolicySet, serial: number) => Promise<void>
  /** Runs an effect with a command client on the chosen Redis (same prefix as the relays). */
  readonly withRedis: <A, E>(effect: Effect.Effect<A, E, RedisClient>) => Promise<A>
  readonly startRelay: (id: string, env?: Record<string, string>) => Promise<SmtpRelay>
}

export const withRedisAt =
  (redisUrl: string, prefix: string) =>
  <A, E>(effect: Effect.Effect<A, E, RedisClient>): Promise<A> =>
    Effect.runPromise(
      effect.pipe(Effect.scoped, Effect.provide(redisLayer(redisUrl, prefix, { commandTimeoutMs: 5_000 }))),
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
      const { signer } = stack.lab
      await withRedis(publishSigned(signer, signedPolicy(signer, policy, serial)))
    },
    startRelay: (id, env = {}) => stack.startRelay(id, { REDIS_URL: redisUrl, REDIS_PREFIX: prefix, ...env }),
  }
}

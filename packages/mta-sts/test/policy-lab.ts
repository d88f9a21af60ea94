/**
 * The MTA-STS lab of these tests: the partner lab's policy host (`startMtaStsHost`: DNS, HTTPS
 * with certificates from a test CA, request counts) and a redis-server. Each scenario publishes
 * its own domain and runs on its own key prefix.
 */
import { randomBytes } from "node:crypto"
import { type MtaStsHost, startMtaStsHost } from "@mailconnect/partner-lab"
import { parseRedisUrl, RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import { freePort, type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Context, Effect, Either, Layer, type Scope } from "effect"
import { MtaSts, type MtaStsConfig, type MtaStsPolicy } from "../src"

export {
  defaultFields,
  type PolicyFields,
  type Publication,
  policyText,
  type Served,
} from "@mailconnect/partner-lab"

export const expectedPolicy = (domain: string): MtaStsPolicy => ({
  mode: "enforce",
  mx: [`mx1.${domain}`, `*.mx.${domain}`],
  maxAge: 86_400,
})

export interface PolicyLab extends MtaStsHost {
  readonly redis: RedisServer
}

export const startPolicyLab = async (): Promise<PolicyLab> => {
  const [host, redis] = await Promise.all([startMtaStsHost(), startRedis()])
  return {
    ...host,
    redis,
    stop: async () => {
      await Promise.all([host.stop(), redis.stop()])
    },
  }
}

/** The shared command client on `url` under `prefix`, as a relay has it. */
export const redisLayer = (url: string, prefix: string) =>
  RedisClient.layer.pipe(
    Layer.provideMerge(RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(url, prefix)))),
  )

export const newPrefix = (): string => `mtasts${randomBytes(4).toString("hex")}`

/**
 * One relay's `MtaSts` on `prefix`, pointed at the lab (its DNS, its CA, its port), open until the
 * scope closes. Two calls on one prefix are two relays sharing a cache.
 */
export const openRelay = (
  lab: PolicyLab,
  prefix: string,
  overrides: Partial<MtaStsConfig> & { readonly redisUrl?: string } = {},
): Effect.Effect<MtaSts["Type"], never, Scope.Scope> => {
  const { redisUrl, ...config } = overrides
  // The scenarios change TXT records between calls: no reuse of a discovery unless a test asks for it.
  const layer = MtaSts.layer({
    dnsServers: [lab.dns.server],
    ca: lab.ca,
    port: lab.port,
    discoveryCacheFor: 0,
    ...config,
  }).pipe(Layer.provide(redisLayer(redisUrl ?? lab.redis.url, prefix)))
  return Layer.build(layer).pipe(Effect.map(Context.get(MtaSts)))
}

/** A Redis client on the lab's server under `prefix`, for looking at (and finally deleting) the keys. */
export const openRedis = (lab: PolicyLab, prefix: string) =>
  Layer.build(redisLayer(lab.redis.url, prefix)).pipe(Effect.map(Context.get(RedisClient)))

/** Deletes every key under the prefix when the scope closes. */
export const cleanUpPrefix = (lab: PolicyLab, prefix: string) =>
  Effect.gen(function* () {
    const redis = yield* openRedis(lab, prefix)
    yield* Effect.addFinalizer(() =>
      redis.call("KEYS", `{${prefix}}:*`).pipe(
        Effect.flatMap((keys) => redis.del(...(keys as Array<string>))),
        Effect.orDie,
      ),
    )
    return redis
  })

/** A loopback port where nothing listens: a Redis or DNS server that is down. */
export const deadPort = freePort

/** Waits (in real time, the TestClock stands still) until `check` holds. */
export const until = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, timeoutMs = 10_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMs
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
    }
  })

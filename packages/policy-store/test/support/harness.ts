/** Layers over a real redis-server for policy-store tests; each test gets its own key prefix. */
import { randomBytes } from "node:crypto"
import { NodeContext } from "@effect/platform-node"
import type { TrustedKey } from "@mailconnect/bundle"
import { SUPPORTED_SCHEMAS } from "@mailconnect/policy"
import { parseRedisUrl, RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import { Duration, Effect, Either, Layer } from "effect"
import { ActivePolicy, LastKnownGood, PolicyStore } from "../../src"

export const uniquePrefix = (): string => `t${randomBytes(4).toString("hex")}`

export const redisLayer = (url: string, prefix: string) => {
  const config = parseRedisUrl(url, prefix)
  if (Either.isLeft(config)) throw new Error(config.left.reason)
  return RedisClient.layerWith({ commandTimeoutMs: 500 }).pipe(
    Layer.provideMerge(RedisConnectionFactory.layerFrom(config.right)),
  )
}

export const storeLayer = (url: string, prefix: string) =>
  PolicyStore.layer.pipe(Layer.provideMerge(redisLayer(url, prefix)))

export const activeLayer = (
  url: string,
  prefix: string,
  stateDir: string,
  trusted: ReadonlyArray<TrustedKey>,
  options: { readonly pollInterval?: Duration.DurationInput } = {},
) =>
  ActivePolicy.layer({
    trusted,
    supportedSchemas: SUPPORTED_SCHEMAS,
    pollInterval: options.pollInterval ?? Duration.seconds(30),
    startTimeout: Duration.seconds(1),
  }).pipe(
    Layer.provideMerge(Layer.merge(PolicyStore.layer, LastKnownGood.layer(stateDir))),
    Layer.provideMerge(redisLayer(url, prefix)),
    Layer.provideMerge(NodeContext.layer),
  )

/** Deletes every key under the prefix (tests share one redis-server per file). */
export const cleanPrefix = (url: string, prefix: string) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const redis = yield* RedisClient
      const keys = (yield* redis.call("KEYS", `{${prefix}}:*`)) as Array<string>
      yield* redis.del(...keys)
    }).pipe(Effect.scoped, Effect.provide(redisLayer(url, prefix))),
  )

/** Polls `check` until it returns true, with a generous deadline (convergence, not timing). */
export const eventually = async (check: () => Promise<boolean>, what: string, deadlineMs = 20_000) => {
  const until = Date.now() + deadlineMs
  while (Date.now() < until) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}

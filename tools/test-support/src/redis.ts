/** Redis for tests: a client layer on one key prefix, and deleting everything under it. */
import { parseRedisUrl, RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import { Effect, Either, Layer } from "effect"

export const redisLayer = (
  url: string,
  prefix: string,
  options: { readonly commandTimeoutMs?: number } = {},
) =>
  RedisClient.layerWith(options).pipe(
    Layer.provideMerge(RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(url, prefix)))),
  )

/** Deletes every key under `prefix` and its queue shards' tags (tests share one redis-server per file). */
export const deletePrefix = (prefix: string) =>
  Effect.gen(function* () {
    const client = yield* RedisClient
    for (const pattern of [`{${prefix}}:*`, `{${prefix}:*}:*`])
      yield* client.del(...((yield* client.call("KEYS", pattern)) as Array<string>))
  })

let prefixes = 0
/** A Redis key prefix of this test process alone: `t<pid>-<name>-<n>`. */
export const uniquePrefix = (name: string): string => `t${process.pid}-${name}-${prefixes++}`

/** A real Redis under a fresh prefix, as the counters and the sender take it. */
import { parseRedisUrl, RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import { uniquePrefix } from "@mailconnect/test-support"
import { Effect, Either, Layer } from "effect"
import { makeTlsReportCounters, TlsReportCounters } from "../src/counters"

export const countersLayer = (redisUrl: string, prefix = uniquePrefix("tlsrpt")) =>
  Layer.effect(TlsReportCounters, Effect.map(RedisClient, makeTlsReportCounters)).pipe(
    Layer.provideMerge(RedisClient.layerWith()),
    Layer.provide(RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(redisUrl, prefix)))),
  )

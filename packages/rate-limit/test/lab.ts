/**
 * The limiter on a real redis-server: each "relay" is a `RateLimiter` on a connection of its own,
 * all on one key prefix (one fleet), deleted when the scope closes.
 */
import { RedisClient } from "@mailconnect/redis-client"
import { deletePrefix, redisLayer } from "@mailconnect/test-support"
import { Context, Effect, Layer } from "effect"
import { type RateLimitConfig, RateLimiter } from "../src"

export const relayLimiter = (url: string, prefix: string, config: RateLimitConfig = {}) =>
  Layer.build(RateLimiter.layer(config).pipe(Layer.provide(redisLayer(url, prefix)))).pipe(
    Effect.map(Context.get(RateLimiter)),
  )

/** A client on the prefix for looking at the keys, which it deletes when the scope closes. */
export const fleetKeys = (url: string, prefix: string) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(redisLayer(url, prefix))
    const redis = Context.get(context, RedisClient)
    yield* Effect.addFinalizer(() => deletePrefix(prefix).pipe(Effect.provide(context), Effect.orDie))
    return redis
  })

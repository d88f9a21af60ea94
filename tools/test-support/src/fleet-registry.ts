/**
 * The fleet registry over a real redis-server, for a test file: one server for the file, the
 * prefix each test sets, and every key under it deleted after each test.
 */
import { FleetRegistry } from "@mailconnect/fleet"
import type { RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Effect, Layer } from "effect"
import { afterAll, afterEach, beforeAll } from "vitest"
import { deletePrefix, redisLayer } from "./redis"

export interface FleetRedis {
  readonly url: () => string
  /** Key prefix of the running test; set it before the first `run`. */
  prefix: string
  readonly run: <A, E>(
    effect: Effect.Effect<A, E, FleetRegistry | RedisClient | RedisConnectionFactory>,
  ) => Promise<A>
}

export const fleetRegistryRedis = (): FleetRedis => {
  let redis: RedisServer | undefined
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(() => redis?.stop())
  const url = () => {
    if (!redis) throw new Error("redis-server not started (use fleetRegistryRedis() at the top of the file)")
    return redis.url
  }
  const harness: FleetRedis = {
    url,
    prefix: "",
    run: (effect) =>
      Effect.runPromise(
        effect.pipe(
          Effect.scoped,
          Effect.provide(FleetRegistry.layer.pipe(Layer.provideMerge(redisLayer(url(), harness.prefix)))),
        ),
      ),
  }
  afterEach(() => harness.run(deletePrefix(harness.prefix)))
  return harness
}

/**
 * Redis for the relay: the connection factory and shared command client from `REDIS_URL`.
 * Closing a connection (and the delivery worker over them) takes no longer than what is left of
 * the drain: a Redis that is down or answers nothing must not hold the process past
 * `RELAY_DRAIN_DELAY + RELAY_DRAIN_TIMEOUT`.
 */
import { RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import { Duration, Effect, Layer } from "effect"
import { drainLeft, RelayLifecycle } from "../lifecycle"

/** Closing after a failed start-up (no drain began): a QUIT's usual wait, no more. */
const CLOSE_WITHOUT_DRAIN = Duration.seconds(2)

const Factory = Layer.unwrapEffect(
  Effect.map(RelayLifecycle, (lifecycle) =>
    RedisConnectionFactory.layerWith({ closeBudget: drainLeft(lifecycle, CLOSE_WITHOUT_DRAIN) }),
  ),
)

// RelayLifecycle.layer is the very layer main.ts merges: layers are memoized by reference, so
// this is the same lifecycle whose drain deadline the drain layer sets.
export const RedisLayer = RedisClient.layer.pipe(
  Layer.provideMerge(Factory),
  Layer.provide(RelayLifecycle.layer),
)

/**
 * A relay refuses to start on a Redis that may evict keys: at `maxmemory` such a Redis silently
 * drops queued message bodies and BullMQ jobs — mail we answered 250 for — where `noeviction`
 * refuses the write (the ingress then answers 451 and nothing is lost). Read at start-up from
 * `CONFIG GET maxmemory-policy`, or `INFO memory` where CONFIG is disabled (managed Redis). A
 * Redis that does not answer at start-up is not checked (the relay may start on its last-known-good
 * bundle while Redis is away; the warning says so).
 */
import { RedisClient } from "@mailconnect/redis-client"
import { Data, Duration, Effect, Layer } from "effect"

export class RedisEvictionUnsafe extends Data.TaggedError("RedisEvictionUnsafe")<{
  readonly policy: string
}> {
  override get message() {
    return `Redis maxmemory-policy is ${this.policy}: at maxmemory it would evict queued mail and delivery jobs. Set maxmemory-policy noeviction (BullMQ requires it) and start the relay again.`
  }
}

const fromInfo = (info: string): string | undefined => /^maxmemory_policy:(\S+)/m.exec(info)?.[1]

/** The server's eviction policy, or undefined when it cannot be read. */
const evictionPolicy = (redis: RedisClient["Type"]) =>
  redis.call("CONFIG", "GET", "maxmemory-policy").pipe(
    Effect.map((reply) => (Array.isArray(reply) ? String(reply[1] ?? "") : "") || undefined),
    Effect.orElse(() => redis.call("INFO", "memory").pipe(Effect.map((info) => fromInfo(String(info))))),
    Effect.timeout(Duration.seconds(3)),
    Effect.orElseSucceed(() => undefined),
  )

export const RedisEvictionCheck = Layer.effectDiscard(
  Effect.gen(function* () {
    const redis = yield* RedisClient
    const policy = yield* evictionPolicy(redis)
    if (policy === undefined)
      return yield* Effect.logWarning("Redis eviction policy not checked: Redis did not answer at start-up")
    if (policy !== "noeviction") return yield* new RedisEvictionUnsafe({ policy })
  }),
)

/**
 * `FleetRegistry`: relay heartbeats in Redis. Each relay's record is a key with a TTL
 * (`{mc}:fleet:relay:<id>`) so a crashed relay disappears on its own; a sorted set
 * (`{mc}:fleet:relays`, score = expiry in ms) lists ids so readers need no SCAN (which Cluster
 * would split per node). Stale set members are pruned by readers and writers.
 *
 * Trusts: Redis. Touches: only the `fleet:` keys under the configured prefix.
 */
import { RedisClient, type RedisCommandError } from "@mailconnect/redis-client"
import { Clock, Context, Duration, Effect, Layer, Schema } from "effect"
import { HeartbeatUnreadable } from "./errors"
import { type RelayHeartbeat, RelayHeartbeatJson } from "./heartbeat"

const BEAT = {
  name: "mcFleetBeat",
  numberOfKeys: 2,
  // KEYS: record, index. ARGV: json, ttlMs, relayId, expiresAtMs, nowMs
  lua: `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5])
return 1`,
} as const

export interface LiveRelays {
  readonly relays: ReadonlyArray<RelayHeartbeat>
  /** Records present but not decodable; reported, not fatal. */
  readonly unreadable: ReadonlyArray<HeartbeatUnreadable>
}

export interface FleetRegistryShape {
  readonly beat: (
    heartbeat: RelayHeartbeat,
    ttl: Duration.DurationInput,
  ) => Effect.Effect<void, RedisCommandError>
  readonly remove: (relayId: string) => Effect.Effect<void, RedisCommandError>
  /** Every relay whose heartbeat has not expired, sorted by relay id. */
  readonly live: Effect.Effect<LiveRelays, RedisCommandError>
}

export class FleetRegistry extends Context.Tag("@mailconnect/FleetRegistry")<
  FleetRegistry,
  FleetRegistryShape
>() {
  static layer = Layer.effect(
    this,
    Effect.gen(function* () {
      const redis = yield* RedisClient
      const recordKey = (id: string) => redis.keys.key("fleet", "relay", id)
      const indexKey = redis.keys.key("fleet", "relays")
      const decode = Schema.decodeUnknownEither(RelayHeartbeatJson)

      const beat = Effect.fn("FleetRegistry.beat")(function* (
        heartbeat: RelayHeartbeat,
        ttl: Duration.DurationInput,
      ) {
        const now = yield* Clock.currentTimeMillis
        const ttlMs = Math.max(1, Math.round(Duration.toMillis(ttl)))
        const json = Schema.encodeSync(RelayHeartbeatJson)(heartbeat)
        yield* redis.script(
          BEAT,
          [recordKey(heartbeat.relayId), indexKey],
          [json, ttlMs, heartbeat.relayId, now + ttlMs, now],
        )
      })

      const remove = Effect.fn("FleetRegistry.remove")(function* (relayId: string) {
        yield* redis.del(recordKey(relayId))
        yield* redis.call("ZREM", indexKey, relayId)
      })

      const live = Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const ids = (yield* redis.call("ZRANGEBYSCORE", indexKey, now, "+inf")) as Array<string>
        const values = yield* redis.mget(ids.map(recordKey))
        const relays: Array<RelayHeartbeat> = []
        const unreadable: Array<HeartbeatUnreadable> = []
        values.forEach((value, i) => {
          if (value === null) return
          const decoded = decode(value)
          if (decoded._tag === "Right") relays.push(decoded.right)
          else
            unreadable.push(
              new HeartbeatUnreadable({ key: recordKey(ids[i]!), detail: decoded.left.message }),
            )
        })
        relays.sort((a, b) => (a.relayId < b.relayId ? -1 : a.relayId > b.relayId ? 1 : 0))
        return { relays, unreadable }
      }).pipe(Effect.withSpan("FleetRegistry.live"))

      return { beat, remove, live }
    }),
  )
}

/**
 * `AuthThrottle`: failed AUTH attempts counted fleet-wide in Redis, per client address and per
 * user. Each failure is answered only after a delay that doubles with the failures of that
 * address or user in the window (250 ms, 500 ms, … at most 8 s: a guesser gets a few tries a
 * minute, a typo costs a quarter second); past `maxPerAddress` failures the address, past
 * `maxPerUser` the user name, is locked for `lockMs`: every AUTH then gets 454 4.7.0, even with
 * the right password, so a guess that happens to be right teaches the guesser nothing. A success
 * clears both counters.
 *
 * The per-user lock lets an attacker lock a user out (from every address); its threshold is set
 * well above the per-address one so that takes a distributed attack, and the lock is temporary.
 * Redis away: the throttle fails open with the fixed minimum delay (AUTH then cannot lead to a
 * queued message anyway: the queue answers 451).
 *
 * Keys: `{mc}:auth:fail:a:<address>`, `{mc}:auth:fail:u:<user>` (counters, `windowMs`),
 * `{mc}:auth:lock:a:<address>`, `{mc}:auth:lock:u:<user>` (`lockMs`).
 */
import { RedisClient } from "@mailconnect/redis-client"
import { Context, Effect, Layer } from "effect"

export interface AuthThrottleConfig {
  readonly windowMs: number
  readonly lockMs: number
  readonly maxPerAddress: number
  readonly maxPerUser: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
}

export const DEFAULT_AUTH_THROTTLE: AuthThrottleConfig = {
  windowMs: 15 * 60_000,
  lockMs: 15 * 60_000,
  maxPerAddress: 10,
  maxPerUser: 50,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
}

export interface AuthAttempt {
  /** The client address, IPv4-mapped IPv6 as plain IPv4. */
  readonly address: string
  /** The user name as given, lower case. */
  readonly user: string
}

export type AuthLock =
  | { readonly _tag: "Open" }
  | { readonly _tag: "Locked"; readonly scope: "address" | "user"; readonly retryAfterMs: number }

export interface AuthThrottleShape {
  readonly check: (attempt: AuthAttempt) => Effect.Effect<AuthLock>
  /** Records a failure; how long to wait before answering it. */
  readonly failed: (attempt: AuthAttempt) => Effect.Effect<number>
  readonly succeeded: (attempt: AuthAttempt) => Effect.Effect<void>
}

export const normalizeAddress = (address: string): string =>
  address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, "$1")

const FAIL = {
  name: "auth-fail",
  numberOfKeys: 4,
  lua: `
local a = redis.call('INCR', KEYS[1])
if a == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local u = redis.call('INCR', KEYS[2])
if u == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
if a >= tonumber(ARGV[3]) then redis.call('SET', KEYS[3], '1', 'PX', ARGV[2]) end
if u >= tonumber(ARGV[4]) then redis.call('SET', KEYS[4], '1', 'PX', ARGV[2]) end
return {a, u}
`,
}

export const delayFor = (failures: number, config: AuthThrottleConfig): number =>
  Math.min(config.maxDelayMs, config.baseDelayMs * 2 ** Math.max(0, Math.min(failures - 1, 30)))

export const makeAuthThrottle = (
  redis: RedisClient["Type"],
  config: AuthThrottleConfig,
): AuthThrottleShape => {
  const key = (...parts: ReadonlyArray<string>) => redis.keys.key("auth", ...parts)
  const keysOf = (a: AuthAttempt) => {
    const address = normalizeAddress(a.address)
    return {
      failA: key("fail", "a", address),
      failU: key("fail", "u", a.user),
      lockA: key("lock", "a", address),
      lockU: key("lock", "u", a.user),
    }
  }
  return {
    check: (attempt) => {
      const k = keysOf(attempt)
      return redis
        .batch([
          ["PTTL", k.lockA],
          ["PTTL", k.lockU],
        ])
        .pipe(
          Effect.map(([a, u]): AuthLock => {
            const [address, user] = [Number(a), Number(u)]
            if (address > 0) return { _tag: "Locked", scope: "address", retryAfterMs: address }
            if (user > 0) return { _tag: "Locked", scope: "user", retryAfterMs: user }
            return { _tag: "Open" }
          }),
          Effect.orElseSucceed((): AuthLock => ({ _tag: "Open" })),
        )
    },
    failed: (attempt) => {
      const k = keysOf(attempt)
      return redis
        .script(
          FAIL,
          [k.failA, k.failU, k.lockA, k.lockU],
          [config.windowMs, config.lockMs, config.maxPerAddress, config.maxPerUser],
        )
        .pipe(
          Effect.map((counts) => {
            const [a, u] = counts as [number, number]
            return delayFor(Math.max(a, u), config)
          }),
          Effect.orElseSucceed(() => config.baseDelayMs),
        )
    },
    succeeded: (attempt) => {
      const k = keysOf(attempt)
      return redis.del(k.failA, k.failU).pipe(Effect.ignore)
    },
  }
}

export class AuthThrottle extends Context.Tag("@mailconnect/smtp-inbound/AuthThrottle")<
  AuthThrottle,
  AuthThrottleShape
>() {
  /** On a fail-fast connection of its own: a slow or absent Redis must not hold AUTH up. */
  static layer = (config: AuthThrottleConfig = DEFAULT_AUTH_THROTTLE) =>
    Layer.scoped(
      AuthThrottle,
      Effect.map(
        // No offline queue: while Redis is away a check fails at once (open), never holding AUTH.
        RedisClient.connect({
          purpose: "auth-throttle",
          maxRetriesPerRequest: 1,
          commandTimeoutMs: 2_000,
          enableOfflineQueue: false,
        }),
        (redis) => makeAuthThrottle(redis, config),
      ),
    )
}

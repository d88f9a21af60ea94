/**
 * `RateLimiter`: partners' delivery limits counted fleet-wide in Redis — messages per minute in a
 * sliding window, and simultaneous sessions as leased slots of a semaphore — one Lua script per
 * decision (`scripts.ts`). A slot is held while the caller's scope is open: renewed every third of
 * its lease, removed when the scope closes, and left to expire when the relay holding it dies.
 *
 * Trusts: the Redis endpoint of the fleet. Touches: `{prefix}:limits:<partner>:{sent,waiting,sessions}`.
 */
import { randomUUID } from "node:crypto"
import { RedisClient, type RedisCommandError } from "@mailconnect/redis-client"
import { Clock, Context, Duration, Effect, Layer, type Scope } from "effect"
import { RateLimitUnavailable } from "./errors"
import { admitScript, renewScript } from "./scripts"
import { countingWindow } from "./window"

export interface RateLimitConfig {
  /** The sliding window `messagesPerMinute` is counted in; default 60 s (see `countingWindow`). */
  readonly windowMs?: number
  /** A session slot's lease; default 30 s. A dead relay's slots come free after this long. */
  readonly leaseMs?: number
  /** At most this long before a delivery refused a session slot asks again; default 1 s. */
  readonly sessionRetryMs?: number
  /**
   * Whose time counts: Redis `TIME` (default — one clock for the whole fleet, however skewed the
   * relays' are) or the Effect Clock (tests that step a TestClock).
   */
  readonly clock?: "redis" | "effect"
}

/** Absent (or undefined, as a decoded policy may carry it): no limit. */
export interface Limits {
  readonly messagesPerMinute?: number | undefined
  readonly connections?: number | undefined
}

export type Decision =
  | { readonly _tag: "Admitted" }
  | {
      readonly _tag: "Throttled"
      readonly limit: "messagesPerMinute" | "connections"
      /** When to ask again, from now. */
      readonly retryAfterMs: number
    }

export interface RateLimiterShape {
  /**
   * One message to `partner` now? Admitted: counted in its window, and under a connections limit
   * a session slot held for `holder` until the scope closes. Throttled: nothing taken.
   */
  readonly admit: (
    partner: string,
    limits: Limits,
    holder: string,
  ) => Effect.Effect<Decision, RateLimitUnavailable, Scope.Scope>
}

const unavailable = (partner: string) => (e: RedisCommandError) =>
  new RateLimitUnavailable({ partner, reason: e.reason, detail: e.detail })

export const makeRateLimiter = (config: RateLimitConfig = {}) =>
  Effect.gen(function* () {
    const redis = yield* RedisClient
    const windowMs = config.windowMs ?? 60_000
    const leaseMs = config.leaseMs ?? 30_000
    const sessionRetryMs = config.sessionRetryMs ?? 1_000
    const now = config.clock === "effect" ? Effect.map(Clock.currentTimeMillis, String) : Effect.succeed("")
    const keysOf = (partner: string) =>
      ["sent", "waiting", "sessions"].map((part) => redis.keys.key("limits", partner, part))

    /** Keeps the slot while the scope is open; a lapsed lease is only reported (the attempt is under way). */
    const keepLease = (partner: string, sessions: string, token: string) =>
      Effect.flatMap(now, (at) => redis.script(renewScript, [sessions], [at, token, leaseMs])).pipe(
        Effect.flatMap((renewed) =>
          renewed === 1
            ? Effect.void
            : Effect.logWarning("session slot lease lapsed while delivering").pipe(
                Effect.annotateLogs({ partner, holder: token }),
              ),
        ),
        Effect.catchAll((e) =>
          Effect.logWarning("session slot lease not renewed").pipe(
            Effect.annotateLogs({ partner, error: e.detail }),
          ),
        ),
        Effect.delay(Duration.millis(Math.max(1, Math.floor(leaseMs / 3)))),
        Effect.forever,
      )

    const admit = Effect.fnUntraced(function* (partner: string, limits: Limits, holder: string) {
      const [sent, waiting, sessions] = keysOf(partner) as [string, string, string]
      const rate =
        limits.messagesPerMinute === undefined
          ? undefined
          : countingWindow(limits.messagesPerMinute, windowMs)
      // A token per admission: two runs of one job (a stalled one and its successor) never share a slot.
      const token = `${holder}:${randomUUID().slice(0, 8)}`
      const reply = (yield* Effect.flatMap(now, (at) =>
        redis.script(
          admitScript,
          [sent, waiting, sessions],
          [
            at,
            rate?.messages ?? 0,
            rate?.windowMs ?? 0,
            limits.connections ?? 0,
            token,
            leaseMs,
            sessionRetryMs,
          ],
        ),
      ).pipe(Effect.mapError(unavailable(partner)))) as [number, string | number, number?]
      if (reply[0] !== 1)
        return {
          _tag: "Throttled",
          limit: reply[1] === "connections" ? "connections" : "messagesPerMinute",
          retryAfterMs: Number(reply[2]),
        } satisfies Decision
      if (limits.connections !== undefined) {
        yield* Effect.addFinalizer(() => redis.call("ZREM", sessions, token).pipe(Effect.ignore))
        yield* Effect.forkScoped(keepLease(partner, sessions, token))
      }
      return { _tag: "Admitted" } satisfies Decision
    })
    return { admit } satisfies RateLimiterShape
  })

export class RateLimiter extends Context.Tag("@mailconnect/RateLimiter")<RateLimiter, RateLimiterShape>() {
  /** Needs the `RedisClient` of the fleet's Redis. */
  static readonly layer = (config: RateLimitConfig = {}) => Layer.effect(RateLimiter, makeRateLimiter(config))
}

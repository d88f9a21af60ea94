/**
 * Partners' delivery limits for the delivery role: the delivery queue's `DeliveryThrottle` port
 * bound to the fleet-wide `RateLimiter` (`@mailconnect/rate-limit`) on the relay's shared Redis,
 * so every relay of the fleet counts against the same messages-per-minute window and the same
 * session slots. The limits themselves come from the active bundle, per partner, at each attempt.
 *
 * The session slot is taken around the whole delivery in the worker rather than around opening a
 * socket in smtp-outbound: the worker is where the partner and its limits are known, a delivery
 * opens at most one session at a time, and a held-back job can be delayed there without an
 * attempt counted. A session cached idle after the delivery (at most `RELAY_DESTINATION_CONCURRENCY`
 * per relay and destination, closed after the outbound idle timeout, 5 s) holds no slot.
 *
 * Settings: RELAY_RATE_LIMIT_WINDOW (default 1m: `messagesPerMinute` exactly per minute; shorter
 * spreads the same rate), RELAY_RATE_LIMIT_LEASE (default 30s: how long a killed relay's slots
 * stay taken).
 *
 * Trusts: the fleet's Redis (its TIME is the limiter's clock). Touches: `{prefix}:limits:*`.
 */
import { DeliveryThrottle, ThrottleUnavailable } from "@mailconnect/delivery-queue"
import { type RateLimitConfig, RateLimiter } from "@mailconnect/rate-limit"
import type { RedisClient } from "@mailconnect/redis-client"
import { type ConfigError, Duration, Effect, Layer } from "effect"
import { duration } from "../config"

/** The port over the limiter: its decision as the worker's `Admission`, Redis trouble as `ThrottleUnavailable`. */
export const DeliveryThrottleFromRateLimiter = Layer.effect(
  DeliveryThrottle,
  Effect.map(RateLimiter, (limiter) => ({
    admit: ({ partner, limits, holder }) =>
      limiter
        .admit(partner, limits, holder)
        .pipe(
          Effect.catchTag("RateLimitUnavailable", (e) =>
            Effect.fail(new ThrottleUnavailable({ partner, detail: `${e.reason}: ${e.detail}` })),
          ),
        ),
  })),
)

/** The binding with these limiter settings; needs the relay's shared `RedisClient`. */
export const rateLimitsLayer = (config: RateLimitConfig): Layer.Layer<DeliveryThrottle, never, RedisClient> =>
  DeliveryThrottleFromRateLimiter.pipe(Layer.provide(RateLimiter.layer(config)))

export const RateLimitsFromEnv: Layer.Layer<DeliveryThrottle, ConfigError.ConfigError, RedisClient> =
  Layer.unwrapEffect(
    Effect.map(
      Effect.all([duration("RELAY_RATE_LIMIT_WINDOW", "1m"), duration("RELAY_RATE_LIMIT_LEASE", "30s")]),
      ([window, lease]) =>
        rateLimitsLayer({ windowMs: Duration.toMillis(window), leaseMs: Duration.toMillis(lease) }),
    ),
  )

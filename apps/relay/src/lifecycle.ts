/**
 * `RelayLifecycle`: process-wide state that several layers read — when the relay started,
 * whether it is up (every layer built), whether it is draining (SIGTERM received: not ready, finishing work, about to exit), by when
 * the drain must be over, and the latest delivery-queue figures (for the heartbeat and
 * `fleet status`).
 */
import { Clock, Context, Duration, Effect, Layer, Ref, SubscriptionRef } from "effect"

export interface RelayLifecycleShape {
  /** Epoch milliseconds. */
  readonly startedAt: number
  /**
   * Every layer is up — SMTP listeners bound, workers consuming (set by the drain layer, built
   * last): before that /readyz says not ready although a bundle may already be active.
   */
  readonly running: SubscriptionRef.SubscriptionRef<boolean>
  readonly draining: SubscriptionRef.SubscriptionRef<boolean>
  /**
   * Epoch milliseconds by which every finalizer must be done (SIGTERM + RELAY_DRAIN_DELAY +
   * RELAY_DRAIN_TIMEOUT); undefined until the drain begins.
   */
  readonly drainDeadline: Ref.Ref<number | undefined>
  /** Jobs by state, as last sampled from the queue (undefined until the first sample). */
  readonly queueFigures: Ref.Ref<Readonly<Record<string, number>> | undefined>
}

export class RelayLifecycle extends Context.Tag("@mailconnect/RelayLifecycle")<
  RelayLifecycle,
  RelayLifecycleShape
>() {
  static layer = Layer.effect(
    this,
    Effect.all({
      startedAt: Clock.currentTimeMillis,
      running: SubscriptionRef.make(false),
      draining: SubscriptionRef.make(false),
      drainDeadline: Ref.make<number | undefined>(undefined),
      queueFigures: Ref.make<Readonly<Record<string, number>> | undefined>(undefined),
    }),
  )
}

/** Starts the drain clock: everything must be closed `budget` from now. */
export const beginDrain = (lifecycle: RelayLifecycleShape, budget: Duration.Duration) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Ref.set(lifecycle.drainDeadline, now + Duration.toMillis(budget)),
  )

/**
 * What is left of the drain budget (zero once it is spent). `otherwise` when no drain began:
 * layers closing after a failed start-up, which no operator is waiting on but which must not
 * hang either.
 */
export const drainLeft = (lifecycle: RelayLifecycleShape, otherwise: Duration.Duration) =>
  Effect.gen(function* () {
    const deadline = yield* Ref.get(lifecycle.drainDeadline)
    if (deadline === undefined) return otherwise
    const now = yield* Clock.currentTimeMillis
    return Duration.millis(Math.max(0, deadline - now))
  })

/**
 * `RelayLifecycle`: process-wide state that several layers read — when the relay started,
 * whether it is draining (SIGTERM received: not ready, finishing work, about to exit), and the
 * latest delivery-queue figures (for the heartbeat and `fleet status`).
 */
import { Clock, Context, Effect, Layer, Ref, SubscriptionRef } from "effect"

export interface RelayLifecycleShape {
  /** Epoch milliseconds. */
  readonly startedAt: number
  readonly draining: SubscriptionRef.SubscriptionRef<boolean>
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
      draining: SubscriptionRef.make(false),
      queueFigures: Ref.make<Readonly<Record<string, number>> | undefined>(undefined),
    }),
  )
}

/**
 * `RelayLifecycle`: process-wide state that several layers read — when the relay started and
 * whether it is draining (SIGTERM received: not ready, finishing work, about to exit).
 */
import { Clock, Context, Effect, Layer, SubscriptionRef } from "effect"

export interface RelayLifecycleShape {
  /** Epoch milliseconds. */
  readonly startedAt: number
  readonly draining: SubscriptionRef.SubscriptionRef<boolean>
}

export class RelayLifecycle extends Context.Tag("@mailconnect/RelayLifecycle")<
  RelayLifecycle,
  RelayLifecycleShape
>() {
  static layer = Layer.effect(
    this,
    Effect.all({ startedAt: Clock.currentTimeMillis, draining: SubscriptionRef.make(false) }),
  )
}

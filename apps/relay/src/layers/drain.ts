/**
 * The drain. Built last, so on SIGTERM its finalizer runs first: readiness goes false and the
 * heartbeat says `draining`, then (after `RELAY_DRAIN_DELAY`) the finalizers of the layers built
 * before it run in reverse — role layers stop listeners and finish jobs, the HTTP server closes,
 * the heartbeat is removed, Redis connections close — and the process exits 0.
 */
import { Effect, Layer, SubscriptionRef } from "effect"
import { RelayConfig } from "../config"
import { RelayLifecycle } from "../lifecycle"
import { RELAY_VERSION } from "../version"
import { Heartbeat } from "./heartbeat"

export const DrainLayer = Layer.scopedDiscard(
  Effect.gen(function* () {
    const config = yield* RelayConfig
    const lifecycle = yield* RelayLifecycle
    const heartbeat = yield* Heartbeat
    yield* Effect.logInfo("relay running").pipe(
      Effect.annotateLogs({ relayId: config.relayId, version: RELAY_VERSION, roles: config.roles.join(",") }),
    )
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* Effect.logInfo("draining")
        yield* SubscriptionRef.set(lifecycle.draining, true)
        yield* heartbeat.beatNow
        yield* Effect.sleep(config.drainDelay)
      }),
    )
  }),
)

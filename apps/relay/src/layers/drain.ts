/**
 * The drain. Built last, so on SIGTERM its finalizer runs first: it starts the drain clock
 * (`RELAY_DRAIN_DELAY + RELAY_DRAIN_TIMEOUT` from now), readiness goes false and the heartbeat
 * says `draining`, then (after `RELAY_DRAIN_DELAY`) the finalizers of the layers built before it
 * run in reverse — role layers stop listeners and finish jobs, the HTTP server closes, the
 * heartbeat is removed, Redis connections close — and the process exits 0. Every finalizer that
 * waits on Redis waits at most for what is left of the clock (`drainLeft`), so the process is gone
 * within the budget whether Redis answers, is down or is failing over; jobs it could not finish
 * are left to BullMQ's stall recovery.
 */
import { Duration, Effect, Layer, SubscriptionRef } from "effect"
import { RelayConfig } from "../config"
import { beginDrain, drainLeft, RelayLifecycle } from "../lifecycle"
import { RoleConfig } from "../smtp-config"
import { RELAY_VERSION } from "../version"
import { Heartbeat } from "./heartbeat"

/** How long announcing `draining` may hold the drain when RELAY_DRAIN_DELAY is shorter. */
const ANNOUNCE_WAIT = Duration.seconds(1)

export const DrainLayer = Layer.scopedDiscard(
  Effect.gen(function* () {
    const config = yield* RelayConfig
    const { drainTimeoutMs } = yield* RoleConfig
    const lifecycle = yield* RelayLifecycle
    const heartbeat = yield* Heartbeat
    yield* Effect.logInfo("relay running").pipe(
      Effect.annotateLogs({ relayId: config.relayId, version: RELAY_VERSION, roles: config.roles.join(",") }),
    )
    // Built last: every listener is bound and every worker consuming — /readyz may say ready.
    yield* SubscriptionRef.set(lifecycle.running, true)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* beginDrain(lifecycle, Duration.sum(config.drainDelay, Duration.millis(drainTimeoutMs)))
        yield* Effect.logInfo("draining")
        yield* SubscriptionRef.set(lifecycle.draining, true)
        // The announcement goes out while load balancers notice /readyz. A Redis that does not
        // answer must not eat the time jobs have to finish: it gets the delay (at least
        // ANNOUNCE_WAIT); the heartbeat's own loop keeps trying meanwhile.
        const left = yield* drainLeft(lifecycle, Duration.zero)
        const announceWithin = Duration.min(left, Duration.max(config.drainDelay, ANNOUNCE_WAIT))
        yield* Effect.all(
          [
            heartbeat.beatNow.pipe(Effect.interruptible, Effect.timeout(announceWithin), Effect.ignore),
            Effect.sleep(config.drainDelay),
          ],
          { concurrency: "unbounded", discard: true },
        )
      }),
    )
  }),
).pipe(Layer.provide(RoleConfig.layer))

/**
 * Relay heartbeat: writes this relay's record (with TTL) every `RELAY_HEARTBEAT_INTERVAL`, at
 * once whenever the active bundle or the draining flag changes, and removes it on shutdown.
 * Redis being down only delays heartbeats; it never stops the relay, nor holds its drain: the
 * removal waits at most for what is left of the drain budget (the record expires by TTL anyway).
 */

import { hostname } from "node:os"
import { FleetRegistry, type RelayHeartbeat } from "@mailconnect/fleet"
import { ActivePolicy } from "@mailconnect/policy-store"
import {
  Clock,
  Context,
  Duration,
  Effect,
  Layer,
  Option,
  Ref,
  Schedule,
  Stream,
  SubscriptionRef,
} from "effect"
import { RelayConfig } from "../config"
import { drainLeft, RelayLifecycle } from "../lifecycle"
import { RELAY_VERSION } from "../version"

export interface HeartbeatShape {
  /** Write the record now (e.g. right after draining starts). */
  readonly beatNow: Effect.Effect<void>
}

/** The longest the removal may wait for Redis. */
const REMOVE_WAIT = Duration.seconds(2)

export class Heartbeat extends Context.Tag("@mailconnect/relay/Heartbeat")<Heartbeat, HeartbeatShape>() {}

export const HeartbeatLayer = Layer.scoped(
  Heartbeat,
  Effect.gen(function* () {
    const config = yield* RelayConfig
    const registry = yield* FleetRegistry
    const policy = yield* ActivePolicy
    const lifecycle = yield* RelayLifecycle
    const healthy = yield* Ref.make(true)

    const record = Effect.gen(function* () {
      const active = yield* policy.current
      const now = yield* Clock.currentTimeMillis
      const figures = yield* Ref.get(lifecycle.queueFigures)
      const heartbeat: RelayHeartbeat = {
        relayId: config.relayId,
        version: RELAY_VERSION,
        hostname: hostname(),
        pid: process.pid,
        roles: config.roles,
        bundle: Option.match(active, {
          onNone: () => null,
          onSome: (b) => ({ serial: b.serial, digest: b.digest, schema: b.schema }),
        }),
        supportedSchemas: policy.supportedSchemas,
        draining: yield* SubscriptionRef.get(lifecycle.draining),
        http: config.http,
        startedAt: new Date(lifecycle.startedAt).toISOString(),
        updatedAt: new Date(now).toISOString(),
        ...(figures === undefined ? {} : { queues: { delivery: figures } }),
      }
      return heartbeat
    })

    const beatNow = record.pipe(
      Effect.flatMap((heartbeat) => registry.beat(heartbeat, config.heartbeatTtl)),
      Effect.tap(() => Ref.set(healthy, true)),
      Effect.catchAll((error) =>
        Ref.getAndSet(healthy, false).pipe(
          Effect.flatMap((was) =>
            was ? Effect.logWarning("heartbeat not written", error.detail) : Effect.void,
          ),
        ),
      ),
      Effect.withSpan("Heartbeat.beat"),
    )

    const triggers = Stream.mergeAll(
      [
        Stream.fromSchedule(Schedule.spaced(config.heartbeatInterval)).pipe(Stream.as("tick")),
        policy.changes.pipe(Stream.as("bundle")),
        lifecycle.draining.changes.pipe(Stream.as("draining")),
      ],
      { concurrency: "unbounded" },
    )
    yield* Effect.forkScoped(Stream.runForEach(triggers, () => beatNow))

    yield* Effect.addFinalizer(() =>
      Effect.flatMap(drainLeft(lifecycle, REMOVE_WAIT), (left) =>
        registry.remove(config.relayId).pipe(
          // Finalizers are uninterruptible: without this the timeout would wait for the reply.
          Effect.interruptible,
          Effect.timeout(Duration.min(REMOVE_WAIT, left)),
          Effect.tap(() => Effect.logInfo("heartbeat removed")),
          Effect.catchAll((error) => Effect.logWarning("heartbeat not removed; it expires by TTL", error)),
        ),
      ),
    )
    return { beatNow }
  }),
).pipe(Layer.provide(FleetRegistry.layer))

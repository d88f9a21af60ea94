/**
 * The dashboard's layer graph, shared by `main.ts` (Redis from REDIS_URL) and the tests (Redis
 * from a test server): the HTTP server on top of the page data, which reads heartbeats, the
 * policy store and the delivery queue.
 */
import { DeliveryQueue, QueueOps } from "@mailconnect/delivery-queue"
import { FleetRegistry } from "@mailconnect/fleet"
import { PolicyView } from "@mailconnect/policy"
import { loadTrustedKeys, PolicyStore } from "@mailconnect/policy-store"
import type { RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import { Effect, Layer, Stream } from "effect"
import { DashboardConfig } from "./config"
import { DashboardData } from "./dashboard-data"
import { DashboardServer } from "./server"

/**
 * The dashboard never enqueues or flushes (the only queue operations that consult the
 * policy), so it needs no hot-loaded bundle; bull-board's retry/promote act on BullMQ jobs and
 * the relay's worker looks the policy up when it runs them.
 */
export const NoPolicyView = PolicyView.none

/** Trusted keys are read once at start: a dashboard that cannot verify bundles refuses to start. */
const DataLayer = Layer.unwrapEffect(
  Effect.gen(function* () {
    const config = yield* DashboardConfig
    const trusted = yield* loadTrustedKeys(config.trustedKeyFiles)
    return DashboardData.layer(trusted)
  }),
)

/**
 * The queue page's operations; its partner filter reads the partner of each domain from the
 * verified active bundle, as the CLI's does from the hot-loaded one.
 */
const QueueManagement = QueueOps.layer.pipe(
  Layer.provide(
    Layer.effect(
      PolicyView,
      // The dashboard reads the verified bundle from Redis on every call: current is the latest.
      Effect.map(DashboardData, (data) => ({
        current: data.activePolicy,
        latest: data.activePolicy,
        activations: Stream.empty,
      })),
    ),
  ),
)

export const dashboardLayer = <E, R>(redis: Layer.Layer<RedisClient | RedisConnectionFactory, E, R>) =>
  DashboardServer.layer.pipe(
    Layer.provideMerge(QueueManagement),
    Layer.provideMerge(DataLayer),
    Layer.provideMerge(
      Layer.mergeAll(
        FleetRegistry.layer,
        PolicyStore.layer,
        DeliveryQueue.layer.pipe(Layer.provide(NoPolicyView)),
      ),
    ),
    Layer.provide(redis),
  )

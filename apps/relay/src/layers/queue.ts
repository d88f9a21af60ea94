/**
 * The delivery queue and spool (both roles use them: ingress enqueues, delivery works), with the
 * policy view backed by the hot-loaded bundle, and queue-depth gauges for /metrics and the
 * heartbeat (summed over the queue's shards, `REDIS_SHARDS`; the layout is checked against the
 * fleet's when the queue opens, see docs/scaling.md).
 */
import { DeliveryQueue, QueueAdmin } from "@mailconnect/delivery-queue"
import { PolicyViewFromActivePolicy } from "@mailconnect/policy-store"
import { Effect, Layer, Metric, Ref, Schedule } from "effect"
import { RelayLifecycle } from "../lifecycle"
import { RoleConfig } from "../smtp-config"

const queueJobs = Metric.gauge("mc_queue_jobs", {
  description: "Delivery jobs by state (this relay's last reading)",
})

const QueueDepthGauges = Layer.scopedDiscard(
  Effect.gen(function* () {
    const queue = yield* QueueAdmin
    const lifecycle = yield* RelayLifecycle
    const sample = queue.counts.pipe(
      Effect.tap((counts) => Ref.set(lifecycle.queueFigures, counts)),
      Effect.flatMap((counts) =>
        Effect.forEach(
          Object.entries(counts),
          ([state, n]) => Metric.set(Metric.tagged(queueJobs, "state", state), n),
          {
            discard: true,
          },
        ),
      ),
      Effect.ignore,
    )
    yield* Effect.forkScoped(Effect.repeat(sample, Schedule.spaced("10 seconds")))
  }),
)

export const QueueLayer = Layer.unwrapEffect(
  Effect.map(RoleConfig, (config) =>
    QueueDepthGauges.pipe(
      Layer.provideMerge(
        DeliveryQueue.layerWith({
          waitReplicas: config.waitReplicas,
          waitTimeoutMs: config.waitReplicasTimeoutMs,
        }),
      ),
      Layer.provideMerge(PolicyViewFromActivePolicy),
    ),
  ),
)

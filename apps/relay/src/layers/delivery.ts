/**
 * Role `delivery`: BullMQ workers delivering through the outbound SMTP adapter, one destination
 * actor per next hop, and the targeted flush when a new bundle changes a partner. Closing the
 * layer closes the worker, which waits for the jobs in progress (the drain).
 */
import {
  DelivererFromOutbound,
  DeliveryWorker,
  DestinationActors,
  FlushOnPolicyChange,
} from "@mailconnect/delivery-queue"
import { ClientCertificates, DnsResolver, OutboundConfig, OutboundDelivery } from "@mailconnect/smtp-outbound"
import { Effect, Layer } from "effect"
import { RoleConfig } from "../smtp-config"

export const DeliveryLayer = Layer.unwrapEffect(
  Effect.map(RoleConfig, (config) => {
    const outbound = DelivererFromOutbound.pipe(
      Layer.provide(OutboundDelivery.layer),
      Layer.provide(
        Layer.mergeAll(
          OutboundConfig.layer({ ehloName: config.hostname, mxPort: config.mxPort }),
          DnsResolver.layerFromEnv,
          ClientCertificates.layerFromEnv,
        ),
      ),
    )
    const actors = DestinationActors.layer({
      perDestination: config.destinationConcurrency,
      breakerThreshold: config.breakerThreshold,
      breakerCooldownMs: config.breakerCooldownMs,
    })
    return Layer.merge(
      DeliveryWorker.layer({
        concurrency: config.deliveryConcurrency,
        reportingMta: config.hostname,
        lockDurationMs: config.jobLockMs,
      }),
      FlushOnPolicyChange,
    ).pipe(Layer.provide(Layer.merge(outbound, actors)))
  }),
)

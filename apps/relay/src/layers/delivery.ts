/**
 * Role `delivery`: BullMQ workers delivering through the outbound SMTP adapter (one destination
 * per resolved next hop: concurrency, cached sessions, breaker), and the targeted flush when a
 * new bundle changes a partner. Closing the layer closes the worker, which waits for the jobs in
 * progress (the drain).
 *
 * Trusts: the active signed bundle; for domains without an enforced agreement, DANE records the
 * local validating resolver vouches for and MTA-STS policies (`tls-standards.ts`). Touches: the
 * delivery queue, the spool, recipients' MX hosts, MTA-STS policy hosts.
 */
import { DeliveryWorker, FlushOnPolicyChange } from "@mailconnect/delivery-queue"
import { ClientCertificates, DnsResolver, OutboundConfig, OutboundDelivery } from "@mailconnect/smtp-outbound"
import { Effect, Layer } from "effect"
import { RoleConfig } from "../smtp-config"
import { DelivererFromOutbound } from "./outbound-deliverer"
import { PartnerBreakersFromDestinations } from "./partner-breakers"
import { TlsStandardsFromEnv } from "./tls-standards"

export const DeliveryLayer = Layer.unwrapEffect(
  Effect.map(RoleConfig, (config) => {
    const outbound = Layer.merge(DelivererFromOutbound, PartnerBreakersFromDestinations).pipe(
      Layer.provide(OutboundDelivery.layer),
      Layer.provide(
        Layer.mergeAll(
          OutboundConfig.layer({
            ehloName: config.hostname,
            mxPort: config.mxPort,
            perDestination: config.destinationConcurrency,
            breakerThreshold: config.breakerThreshold,
            breakerCooldownMs: config.breakerCooldownMs,
          }),
          DnsResolver.layerFromEnv,
          ClientCertificates.layerFromEnv,
          TlsStandardsFromEnv,
        ),
      ),
    )
    return Layer.merge(
      DeliveryWorker.layer({
        concurrency: config.deliveryConcurrency,
        reportingMta: config.hostname,
        lockDurationMs: config.jobLockMs,
      }),
      FlushOnPolicyChange,
    ).pipe(Layer.provide(outbound))
  }),
)

/**
 * Role `delivery`: BullMQ workers delivering through the outbound SMTP adapter (one destination
 * per resolved next hop: concurrency, cached sessions, breaker), partners' delivery limits counted
 * fleet-wide (`rate-limits.ts`), and the targeted flush when a new bundle changes a partner.
 * Closing the layer closes the worker, which waits for the jobs in progress (the drain) for what
 * is left of the drain budget (`layers/redis.ts`); jobs still running then are left to BullMQ's
 * stall recovery.
 *
 * Trusts: the active signed bundle; for domains without an enforced agreement, DANE records the
 * local validating resolver vouches for and MTA-STS policies (`tls-standards.ts`). Touches: the
 * delivery queue, the spool, recipients' MX hosts, MTA-STS policy hosts.
 */
import { DeliveryWorker, FlushOnPolicyChange } from "@mailconnect/delivery-queue"
import { ClientCertificates, DnsResolver, OutboundConfig, OutboundDelivery } from "@mailconnect/smtp-outbound"
import { TlsReportCounters } from "@mailconnect/tlsrpt"
import { Effect, Layer } from "effect"
import { RelayConfig } from "../config"
import { RoleConfig } from "../smtp-config"
import { DelivererFromOutbound } from "./outbound-deliverer"
import { PartnerBreakersFromDestinations } from "./partner-breakers"
import { RateLimitsFromEnv } from "./rate-limits"
import { tlsReportingOptionsFromEnv, tlsReportRoundsLayer } from "./tls-reporting"
import { TlsStandardsFromEnv } from "./tls-standards"

export const DeliveryLayer = Layer.unwrapEffect(
  Effect.map(Effect.all([RoleConfig, RelayConfig]), ([config, relay]) => {
    // RFC 8460: sessions counted by the deliverer, reports sent by a round on a timer.
    const reporting = tlsReportingOptionsFromEnv(process.env)
    const counters = reporting ? TlsReportCounters.layer : Layer.empty
    const rounds = reporting
      ? tlsReportRoundsLayer(reporting, relay.relayId).pipe(Layer.provide(TlsReportCounters.layer))
      : Layer.empty
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
          counters,
        ),
      ),
    )
    return Layer.mergeAll(
      DeliveryWorker.layer({
        concurrency: config.deliveryConcurrency,
        reportingMta: config.hostname,
        lockDurationMs: config.jobLockMs,
      }),
      FlushOnPolicyChange,
      rounds,
    ).pipe(Layer.provide(Layer.merge(outbound, RateLimitsFromEnv)))
  }),
)

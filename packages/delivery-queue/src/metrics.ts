/** Delivery metrics (Effect Metric; the relay renders them on /metrics). */
import type { FailureCode } from "@mailconnect/failure-codes"
import { taggedBy } from "@mailconnect/telemetry"
import { Effect, Metric } from "effect"
import { type TlsRecord, tlsProtocolLabel } from "./tls-record"

export const deliveries = Metric.counter("mc_deliveries_total", {
  description: "Recipients per delivery attempt outcome, by partner, result and failure code",
  incremental: true,
})

export const tlsNegotiated = Metric.counter("mc_outbound_tls_total", {
  description: "Outbound delivery attempts by negotiated TLS protocol (plaintext when none)",
  incremental: true,
})

export const policySources = Metric.counter("mc_outbound_policy_source_total", {
  description:
    "Outbound delivery attempts by who authenticated the hop (partner, dane, mta-sts, none) and result",
  incremental: true,
})

export const throttled = Metric.counter("mc_delivery_throttled_total", {
  description:
    "Delivery attempts held back by a partner's limit (messagesPerMinute, connections, or unavailable when it could not be checked), by partner",
  incremental: true,
})

const throttledBy = taggedBy(throttled, "partner", "limit")
const deliveriesBy = taggedBy(deliveries, "partner", "result", "code")
const tlsNegotiatedBy = taggedBy(tlsNegotiated, "protocol")
const policySourcesBy = taggedBy(policySources, "policy_source", "result")

export const recordThrottled = (partner: string, limit: string) =>
  Metric.increment(throttledBy(partner, limit))

const count = (partner: string, result: string, code: string, n: number) =>
  n > 0 ? Metric.incrementBy(deliveriesBy(partner, result, code), n) : Effect.void

export const recordDelivery = (
  partner: string,
  r: {
    delivered: number
    deferred: number
    bounced: number
    code: FailureCode | undefined
    tls: TlsRecord | null | undefined
    source: string | undefined
  },
) =>
  Effect.all(
    [
      count(partner, "delivered", "ok", r.delivered),
      count(partner, "deferred", r.code ?? "SMTP_TRANSIENT", r.deferred),
      count(partner, "bounced", r.code ?? "SMTP_PERMANENT", r.bounced),
      r.tls !== undefined ? Metric.increment(tlsNegotiatedBy(tlsProtocolLabel(r.tls))) : Effect.void,
      r.source !== undefined
        ? Metric.increment(policySourcesBy(r.source, r.code === undefined ? "ok" : r.code))
        : Effect.void,
    ],
    { discard: true },
  )

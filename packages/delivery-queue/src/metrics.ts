/** Delivery metrics (Effect Metric; the relay renders them on /metrics). */
import type { FailureCode } from "@mailconnect/failure-codes"
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

export const recordThrottled = (partner: string, limit: string) =>
  Metric.increment(Metric.tagged(Metric.tagged(throttled, "partner", partner), "limit", limit))

const count = (partner: string, result: string, code: string, n: number) =>
  n > 0
    ? Metric.incrementBy(
        Metric.tagged(
          Metric.tagged(Metric.tagged(deliveries, "partner", partner), "result", result),
          "code",
          code,
        ),
        n,
      )
    : Effect.void

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
      r.tls !== undefined
        ? Metric.increment(Metric.tagged(tlsNegotiated, "protocol", tlsProtocolLabel(r.tls)))
        : Effect.void,
      r.source !== undefined
        ? Metric.increment(
            Metric.tagged(
              Metric.tagged(policySources, "policy_source", r.source),
              "result",
              r.code === undefined ? "ok" : r.code,
            ),
          )
        : Effect.void,
    ],
    { discard: true },
  )

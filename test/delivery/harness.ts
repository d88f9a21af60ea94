/**
 * The delivery queue wired as the relay wires it: its ports bound by the relay's own bindings
 * (`apps/relay/src/layers`) to the real smtp-outbound adapter. The queue's test layers and builders
 * (policies, partners, polling) are the delivery-queue's own (`@mailconnect/delivery-queue/testing`).
 */

import {
  DeliveryQueue,
  DeliveryWorker,
  Enqueue,
  type JobView,
  type NewMessage,
  QueueAdmin,
} from "@mailconnect/delivery-queue"
import { eventually } from "@mailconnect/delivery-queue/testing"
import { type PolicySet, PolicyView } from "@mailconnect/policy"
import { buildIndex } from "@mailconnect/policy-compiler"
import { parseRedisUrl, RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import {
  DelivererFromOutbound,
  PartnerBreakersFromDestinations,
  type TlsStandardsOptions,
  tlsStandardsLayer,
} from "@mailconnect/relay"
import {
  ClientCertificates,
  DnsResolver,
  OutboundConfig,
  OutboundDelivery,
  TlsStandards,
} from "@mailconnect/smtp-outbound"
import { TlsReportCounters } from "@mailconnect/tlsrpt"
import { Effect, Either, Layer } from "effect"

export * from "@mailconnect/delivery-queue/testing"

/**
 * Queue and worker delivering for real: the smtp-outbound adapter (no DNS: policies name their
 * servers), a fixed policy, destinations whose breaker never opens (these tests are about
 * timelines: every attempt must really connect).
 */
export const outboundWorkerLayer = (options: {
  redisUrl: string
  prefix: string
  policy: PolicySet
  /** Port of MX and address-literal next hops (default 25). */
  mxPort?: number
  /** DANE / MTA-STS as the relay binds them (`tlsStandardsLayer`); absent: neither. */
  standards?: TlsStandardsOptions
  /** Count TLS sessions for RFC 8460 reports, as a relay with RELAY_TLSRPT_* does. */
  tlsReports?: boolean
  /** The counters on this Redis instead of the queue's (e.g. one that is down). */
  tlsReportsRedisUrl?: string
  /** Our EHLO name (default relay.test): tells two relays apart in a lab's recording. */
  ehloName?: string
}) => {
  const redis = RedisConnectionFactory.layerFrom(
    Either.getOrThrow(parseRedisUrl(options.redisUrl, options.prefix)),
  )
  const countersRedis = options.tlsReportsRedisUrl
    ? RedisConnectionFactory.layerFrom(
        Either.getOrThrow(parseRedisUrl(options.tlsReportsRedisUrl, options.prefix)),
      )
    : redis
  const outbound = Layer.merge(DelivererFromOutbound, PartnerBreakersFromDestinations).pipe(
    Layer.provide(OutboundDelivery.layer),
    Layer.provide(
      Layer.mergeAll(
        OutboundConfig.layer({
          ehloName: options.ehloName ?? "relay.test",
          perDestination: 4,
          breakerThreshold: 10_000,
          breakerCooldownMs: 60_000,
          ...(options.mxPort === undefined ? {} : { mxPort: options.mxPort }),
        }),
        DnsResolver.layer(options.standards?.dane ?? options.standards?.mtaSts?.dnsServers ?? []),
        ClientCertificates.layerStatic({}),
        options.tlsReports ? TlsReportCounters.layer.pipe(Layer.provide(countersRedis)) : Layer.empty,
        options.standards
          ? tlsStandardsLayer(options.standards).pipe(
              Layer.provide(RedisClient.layerWith().pipe(Layer.provide(redis))),
            )
          : TlsStandards.none,
      ),
    ),
  )
  const base = Layer.mergeAll(
    redis,
    PolicyView.fixed(options.policy, buildIndex(options.policy)),
    outbound,
    options.tlsReports ? TlsReportCounters.layer.pipe(Layer.provide(countersRedis)) : Layer.empty,
  )
  return DeliveryWorker.layer({ concurrency: 4, reportingMta: "relay.test" }).pipe(
    Layer.provideMerge(DeliveryQueue.layer.pipe(Layer.provideMerge(base))),
  )
}

/**
 * One message to `recipient` through a worker on `options` (the queue and the real outbound
 * adapter as the relay binds them); the job once its first attempt is recorded.
 */
export const firstAttempt = (
  options: Parameters<typeof outboundWorkerLayer>[0],
  recipient: string,
  /** What the sender asked of TLS (RFC 8689), as the ingress passes it. */
  demand: Pick<NewMessage, "requireTls" | "tlsRequiredNo"> = {},
) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const { messageId } = yield* (yield* Enqueue).enqueue({
        sender: "alice@customer.example",
        recipients: [recipient],
        body: Buffer.from(`Subject: first attempt ${recipient}\r\n\r\nhello\r\n`),
        ...demand,
      })
      const admin = yield* QueueAdmin
      return yield* eventually(
        admin
          .show(messageId)
          .pipe(
            Effect.map((v): JobView | undefined =>
              v.jobs[0] && v.jobs[0].data.attemptCount >= 1 ? v.jobs[0] : undefined,
            ),
          ),
      )
    }).pipe(Effect.scoped, Effect.provide(outboundWorkerLayer(options))),
  )

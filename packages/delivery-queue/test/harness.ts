/** Layers for queue tests: a real Redis (own key prefix per test), a fixed policy, a given deliverer. */
import { type Partner, type PolicySet, PolicyView } from "@mailconnect/policy"
import { buildIndex } from "@mailconnect/policy-compiler"
import { parseRedisUrl, RedisConnectionFactory } from "@mailconnect/redis-client"
import { partner as basePartner, localDomain, policyWith, pollEffect } from "@mailconnect/test-support"
import { type Duration, Effect, Either, Layer } from "effect"
import {
  Deliverer,
  type DeliveryFailed,
  DeliveryQueue,
  type DeliveryReport,
  type DeliveryRequest,
  DeliveryWorker,
} from "../src"

export { uniquePrefix } from "@mailconnect/test-support"

const m = 60_000
export const defaultRetry = {
  schedule: [5 * m, 10 * m, 20 * m, 40 * m],
  every: 60 * m,
  warnAfter: 4 * 60 * m,
  expireAfter: 10 * 86_400_000,
}

/** An enforce partner for `domains`, on the ten-day timeline (the shared builder's, one field overridden). */
export const partner = (
  name: string,
  domains: ReadonlyArray<string>,
  overrides: Partial<Partner> = {},
): Partner => basePartner(name, { domains, retry: defaultRetry, ...overrides })

/** The partners, and `customer.example` delivered to the local sink on `sinkPort`. */
export const policySet = (partners: ReadonlyArray<Partner>, sinkPort = 2525): PolicySet =>
  policyWith(partners, {
    localDomains: [localDomain("customer.example", { host: "127.0.0.1", port: sinkPort })],
    retry: defaultRetry,
  })

export const policyViewLayer = (policy: PolicySet, serial = 1) =>
  PolicyView.fixed(policy, buildIndex(policy), serial)

export type Script = (request: DeliveryRequest) => Either.Either<DeliveryReport, DeliveryFailed>

/** Records every request; answers by `script`. */
export const recordingDeliverer = (script: Script) => {
  const requests: Array<DeliveryRequest> = []
  const layer = Layer.succeed(Deliverer, {
    deliver: (request) =>
      Effect.suspend(() => {
        requests.push(request)
        const result = script(request)
        return Either.isRight(result) ? Effect.succeed(result.right) : Effect.fail(result.left)
      }),
  })
  return { requests, layer }
}

export const acceptAll: Script = (request) =>
  Either.right({
    server: "sink:25",
    recipients: request.recipients.map((recipient) => ({
      recipient,
      accepted: true,
      permanent: false,
      status: "2.0.0",
      reply: "250 2.0.0 ok",
    })),
  })

export const queueLayers = (options: {
  redisUrl: string
  prefix: string
  policy: Layer.Layer<PolicyView>
  deliverer: Layer.Layer<Deliverer>
  concurrency?: number
  /** `REDIS_SHARDS` (recorded as the layout); absent: the layout in Redis, else 1. */
  shards?: number
  /** A job's lock (and the stall check's interval); default the worker's 30 s. */
  lockDurationMs?: number
  /** How long closing waits for jobs in progress before cutting the connections; default forever. */
  closeBudget?: Duration.Duration
}) => {
  const parsed = Either.getOrThrow(parseRedisUrl(options.redisUrl, options.prefix))
  const config = options.shards === undefined ? parsed : { ...parsed, shards: options.shards }
  const factory = RedisConnectionFactory.layerFrom(
    config,
    options.closeBudget === undefined ? {} : { closeBudget: Effect.succeed(options.closeBudget) },
  )
  const base = Layer.mergeAll(factory, options.policy, options.deliverer)
  const queue = DeliveryQueue.layer.pipe(Layer.provideMerge(base))
  const worker = DeliveryWorker.layer({
    concurrency: options.concurrency ?? 4,
    reportingMta: "relay.test",
    waitMs: 200,
    ...(options.lockDurationMs === undefined ? {} : { lockDurationMs: options.lockDurationMs }),
  }).pipe(Layer.provideMerge(queue))
  return { queue, worker }
}

/** Polls `check` until it returns a value (real time, a generous deadline, never asserted as a limit). */
export const eventually = <A, E, R>(check: Effect.Effect<A | undefined, E, R>, timeoutMs = 20_000) =>
  pollEffect("the condition", check, timeoutMs)

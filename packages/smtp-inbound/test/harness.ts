/** Ingress under test: real listeners on loopback, real TLS (test PKI), real Redis queue. */

import {
  DeliveryQueue,
  newMessageId,
  type QueueAdmin,
  Enqueue as QueueEnqueue,
  type Spool,
} from "@mailconnect/delivery-queue"
import { makeLookup, type PolicySet, PolicyView } from "@mailconnect/policy"
import { buildIndex } from "@mailconnect/policy-compiler"
import { parseRedisUrl, RedisConnectionFactory } from "@mailconnect/redis-client"
import { Clock, Effect, Either, Exit, Layer, Scope } from "effect"
import nodemailer from "nodemailer"
import {
  activeIngressPolicy,
  Enqueue,
  type IngressConfig,
  IngressPolicy,
  type RunningListener,
  startIngress,
} from "../src"
import { AuthThrottle, type AuthThrottleConfig } from "../src/auth-throttle"

/** The `Enqueue` port bound to the real delivery queue, as the relay binds it. */
const enqueueIntoQueue = Layer.effect(
  Enqueue,
  Effect.map(QueueEnqueue, (queue) => ({
    newQueueId: Effect.map(Clock.currentTimeMillis, newMessageId),
    enqueue: queue.enqueue,
  })),
)

/**
 * The ingress configuration every test uses (relay.test, TLS ≥ 1.2, 64 KiB, 5 recipients), with
 * its own listeners and users.
 */
export const testIngressConfig = (
  relayCert: { readonly keyPem: string; readonly chainPem: string },
  listeners: IngressConfig["listeners"],
  users: IngressConfig["users"],
): Omit<IngressConfig, "events"> => ({
  hostname: "relay.test",
  listeners,
  tls: { key: relayCert.keyPem, cert: relayCert.chainPem, minVersion: "TLSv1.2" },
  limits: { maxMessageBytes: 64 * 1024, maxRecipients: 5, socketTimeoutMs: 30_000, drainTimeoutMs: 2_000 },
  users,
})

/** The policy as a function of time: each read builds the view a newly activated bundle gets. */
const liveIngressPolicy = (current: () => PolicySet) =>
  Layer.succeed(IngressPolicy, {
    current: Effect.sync(() => {
      const policy = current()
      return activeIngressPolicy(policy, makeLookup(policy, buildIndex(policy)), 1)
    }),
  })

export interface RunningIngress {
  readonly listeners: ReadonlyArray<RunningListener>
  readonly port: (kind: RunningListener["kind"]) => number
  readonly run: <A, E>(effect: Effect.Effect<A, E, QueueAdmin | Spool>) => Promise<A>
  readonly refused: Array<string>
  readonly close: () => Promise<void>
}

export const startTestIngress = async (options: {
  redisUrl: string
  prefix: string
  policy: PolicySet
  config: Omit<IngressConfig, "events">
  /** Read at every MAIL FROM and RCPT TO instead of `policy`, as a hot-loaded bundle is. */
  livePolicy?: () => PolicySet
  /** Failed AUTH throttled in this Redis with these settings (the relay always binds one). */
  authThrottle?: AuthThrottleConfig
}): Promise<RunningIngress> => {
  const scope = Effect.runSync(Scope.make())
  const redis = Either.getOrThrow(parseRedisUrl(options.redisUrl, options.prefix))
  const layer = enqueueIntoQueue.pipe(
    Layer.provideMerge(DeliveryQueue.layer),
    Layer.provideMerge(
      Layer.mergeAll(
        RedisConnectionFactory.layerFrom(redis),
        PolicyView.fixed(options.policy, buildIndex(options.policy)),
        options.livePolicy
          ? liveIngressPolicy(options.livePolicy)
          : IngressPolicy.fixed(options.policy, buildIndex(options.policy)),
      ),
    ),
    Layer.provideMerge(
      options.authThrottle
        ? AuthThrottle.layer(options.authThrottle).pipe(
            Layer.provide(RedisConnectionFactory.layerFrom(redis)),
          )
        : Layer.empty,
    ),
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const refused: Array<string> = []
  const listeners = await Effect.runPromise(
    startIngress({
      ...options.config,
      events: { accepted: () => undefined, refused: (_, reason) => refused.push(reason) },
    }).pipe(Effect.provide(context), Scope.extend(scope)),
  )
  return {
    listeners,
    port: (kind) => listeners.find((l) => l.kind === kind)!.boundPort,
    run: (effect) => Effect.runPromise(Effect.provide(effect, context)),
    refused,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
  }
}

export interface SendResult {
  readonly ok: boolean
  readonly response: string
  readonly code: number | undefined
  /** Replies to recipients the server refused while accepting others. */
  readonly rejected: ReadonlyArray<string>
}

export const send = async (options: {
  port: number
  secure?: boolean
  starttls?: boolean
  ca?: string
  auth?: { user: string; pass: string }
  clientCert?: { cert: string; key: string }
  /** Protocol bounds and ciphers for the client's handshake (legacy TLS tests). */
  protocol?: {
    minVersion: "TLSv1" | "TLSv1.1" | "TLSv1.2"
    maxVersion: "TLSv1" | "TLSv1.1" | "TLSv1.2"
    ciphers: string
  }
  from: string
  to: ReadonlyArray<string>
  body?: string
  /** MAIL FROM … REQUIRETLS (RFC 8689). */
  requireTls?: boolean
  /** The client's source address (Linux routes all of 127.0.0.0/8 to lo). */
  localAddress?: string
}): Promise<SendResult> => {
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port: options.port,
    secure: options.secure ?? false,
    ...(options.starttls === false ? { ignoreTLS: true } : { requireTLS: !options.secure }),
    tls: {
      servername: "relay.test",
      ...(options.ca ? { ca: options.ca } : {}),
      ...(options.clientCert ? { cert: options.clientCert.cert, key: options.clientCert.key } : {}),
      ...(options.protocol ?? {}),
    },
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
  })
  try {
    const info = await transport.sendMail({
      envelope: {
        from: options.from,
        to: [...options.to],
        ...(options.requireTls ? { requireTLSExtensionEnabled: true } : {}),
      },
      raw:
        options.body ??
        `From: ${options.from}\r\nTo: ${options.to.join(", ")}\r\nSubject: test\r\n\r\nhello\r\n`,
    })
    const rejected = ((info as { rejectedErrors?: Array<{ response?: string }> }).rejectedErrors ?? []).map(
      (e) => e.response ?? "",
    )
    return { ok: true, response: info.response, code: 250, rejected }
  } catch (e) {
    const error = e as { response?: string; responseCode?: number; message: string }
    return { ok: false, response: error.response ?? error.message, code: error.responseCode, rejected: [] }
  } finally {
    transport.close()
  }
}

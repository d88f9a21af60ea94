/** Ingress under test: real listeners on loopback, real TLS (test PKI), real Redis queue. */
import {
  DeliveryQueue,
  newMessageId,
  type QueueAdmin,
  Enqueue as QueueEnqueue,
  type Spool,
} from "@mailconnect/delivery-queue"
import { type Partner, type PolicySet, PolicyView } from "@mailconnect/policy"
import { buildIndex } from "@mailconnect/policy-compiler"
import { parseRedisUrl, RedisConnectionFactory } from "@mailconnect/redis-client"
import { Clock, Effect, Either, Exit, Layer, Scope } from "effect"
import nodemailer from "nodemailer"
import {
  Enqueue,
  type IngressConfig,
  IngressPolicy,
  NotQueued,
  type RunningListener,
  startIngress,
} from "../src"

/** The `Enqueue` port bound to the real delivery queue, as the relay binds it. */
const enqueueIntoQueue = Layer.effect(
  Enqueue,
  Effect.map(QueueEnqueue, (queue) => ({
    newQueueId: Effect.map(Clock.currentTimeMillis, newMessageId),
    enqueue: ({ queueId, ...message }) =>
      queue.enqueue({ ...message, messageId: queueId }).pipe(
        Effect.map((enqueued) => enqueued.messageId),
        Effect.mapError(({ operation, detail }) => new NotQueued({ operation, detail })),
      ),
  })),
)

export const retry = {
  schedule: [300_000],
  every: 3_600_000,
  warnAfter: 14_400_000,
  expireAfter: 864_000_000,
}

export const partner = (name: string, overrides: Partial<Partner>): Partner => ({
  name,
  domains: [`${name}.example`],
  tls: { mode: "enforce", minVersion: "TLSv1.2", verify: { trust: "pkix", names: [], pins: [] } },
  inbound: { requireTls: false, requireClientCertificate: false },
  retry,
  groups: [],
  ...overrides,
})

export const policyWith = (partners: ReadonlyArray<Partner>): PolicySet => ({
  defaults: {
    tls: { mode: "opportunistic", minVersion: "TLSv1.2" },
    retry,
    dsn: { languages: ["de", "en"] },
  },
  partners: Object.fromEntries(partners.map((p) => [p.name, p])),
  localDomains: {
    "customer.example": {
      domain: "customer.example",
      deliverTo: { host: "127.0.0.1", port: 25 },
      groups: [],
    },
    "court.customer.example": {
      domain: "court.customer.example",
      deliverTo: { host: "127.0.0.1", port: 25 },
      groups: ["justice"],
    },
  },
  groups: {
    justice: {
      name: "justice",
      members: partners.filter((p) => p.groups.includes("justice")).map((p) => p.name),
      localDomains: ["court.customer.example"],
    },
  },
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
}): Promise<RunningIngress> => {
  const scope = Effect.runSync(Scope.make())
  const redis = Either.getOrThrow(parseRedisUrl(options.redisUrl, options.prefix))
  const layer = enqueueIntoQueue.pipe(
    Layer.provideMerge(DeliveryQueue.layer),
    Layer.provideMerge(
      Layer.mergeAll(
        RedisConnectionFactory.layerFrom(redis),
        PolicyView.fixed(options.policy, buildIndex(options.policy)),
        IngressPolicy.fixed(options.policy, buildIndex(options.policy)),
      ),
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
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
  })
  try {
    const info = await transport.sendMail({
      envelope: { from: options.from, to: [...options.to] },
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

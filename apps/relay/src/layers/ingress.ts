/**
 * Role `ingress`: the SMTP listeners (submission, submissions, inbound MX, legacy-TLS inbound MX).
 * Closing the layer stops accepting and lets open sessions finish within RELAY_DRAIN_TIMEOUT, then 421.
 * The listeners read the hot-loaded bundle through `IngressPolicy`, bound here to `ActivePolicy`,
 * and store accepted mail through `Enqueue`, bound to the delivery queue (`ingress-enqueue.ts`).
 */

import { DeliveryLog } from "@mailconnect/delivery-log"
import { type ActiveBundle, ActivePolicy } from "@mailconnect/policy-store"
import {
  type ActiveIngressPolicy,
  AuthThrottle,
  activeIngressPolicy,
  DEFAULT_AUTH_THROTTLE,
  fileUserDirectory,
  type IngressEvents,
  IngressPolicy,
  startIngress,
} from "@mailconnect/smtp-inbound"
import { taggedBy } from "@mailconnect/telemetry"
import { Config, Effect, Layer, Metric, Option, Runtime } from "effect"
import { RoleConfig } from "../smtp-config"
import { sessionInLine } from "./delivery-log"
import { IngressEnqueueFromQueue, withMemoryWatermark } from "./ingress-enqueue"
import { ReportDomainsFromActivePolicy, withTlsReportMailbox } from "./tlsrpt-inbound"

const accepted = Metric.counter("mc_smtp_accepted_total", {
  description: "Messages accepted (queued) by listener",
  incremental: true,
})
const acceptedBytes = Metric.counter("mc_smtp_accepted_bytes_total", {
  description: "Bytes accepted by listener",
  incremental: true,
})
const inboundTls = Metric.counter("mc_smtp_tls_total", {
  description: "Messages accepted by listener and negotiated TLS protocol (plaintext when none)",
  incremental: true,
})
const refused = Metric.counter("mc_smtp_refused_total", {
  description: "SMTP refusals by listener and reason",
  incremental: true,
})
const acceptedBy = taggedBy(accepted, "listener")
const acceptedBytesBy = taggedBy(acceptedBytes, "listener")
const inboundTlsBy = taggedBy(inboundTls, "listener", "protocol")
const refusedBy = taggedBy(refused, "listener", "reason")

/** Partners listed once per activated bundle, not once per MAIL FROM. */
export const IngressPolicyFromActivePolicy = Layer.effect(
  IngressPolicy,
  Effect.map(ActivePolicy, (active) => {
    const views = new WeakMap<ActiveBundle, ActiveIngressPolicy>()
    const view = (bundle: ActiveBundle): ActiveIngressPolicy => {
      const known = views.get(bundle)
      if (known) return known
      const created = activeIngressPolicy(bundle.payload.policy, bundle.lookup, bundle.serial)
      views.set(bundle, created)
      return created
    }
    return { current: Effect.map(active.current, Option.match({ onNone: () => undefined, onSome: view })) }
  }),
)

const Listeners = Layer.scopedDiscard(
  Effect.gen(function* () {
    const config = yield* RoleConfig
    if (config.listeners.length === 0) {
      yield* Effect.logWarning("role ingress without listeners: set RELAY_SMTP_*_PORT")
      return
    }
    const runtime = yield* Effect.runtime<never>()
    const run = Runtime.runSync(runtime)
    const log = yield* DeliveryLog
    const events: IngressEvents = {
      accepted: (kind, bytes, tls, message) =>
        run(
          Effect.all([
            Metric.increment(acceptedBy(kind)),
            Metric.incrementBy(acceptedBytesBy(kind), bytes),
            Metric.increment(inboundTlsBy(kind, tls)),
            log.write(sessionInLine(kind, bytes, message)),
          ]),
        ),
      refused: (kind, reason) => run(Metric.increment(refusedBy(kind, reason))),
    }
    yield* startIngress({
      hostname: config.hostname,
      listeners: config.listeners,
      tls: config.tls!,
      limits: {
        maxMessageBytes: config.maxMessageBytes,
        maxBufferedBytes: config.maxBufferedBytes,
        maxRecipients: config.maxRecipients,
        maxClients: config.maxClients,
        socketTimeoutMs: config.smtpTimeoutMs,
        junkCommandLimit: config.junkCommandLimit,
        drainTimeoutMs: config.drainTimeoutMs,
        authCache: config.authCache,
        perAddress: config.perAddress,
      },
      users: fileUserDirectory(config.usersFile, (message) => run(Effect.logWarning(message))),
      events,
    })
  }),
)

/**
 * Failed AUTH throttled fleet-wide (`AuthThrottle`): RELAY_AUTH_MAX_FAILURES_PER_ADDRESS (10) and
 * RELAY_AUTH_MAX_FAILURES_PER_USER (50) within RELAY_AUTH_FAILURE_WINDOW seconds (900) lock the
 * address or user for RELAY_AUTH_LOCK seconds (900).
 */
const AuthThrottleFromEnv = Layer.unwrapEffect(
  Effect.map(
    Config.all({
      maxPerAddress: Config.integer("RELAY_AUTH_MAX_FAILURES_PER_ADDRESS").pipe(Config.withDefault(10)),
      maxPerUser: Config.integer("RELAY_AUTH_MAX_FAILURES_PER_USER").pipe(Config.withDefault(50)),
      windowS: Config.integer("RELAY_AUTH_FAILURE_WINDOW").pipe(Config.withDefault(900)),
      lockS: Config.integer("RELAY_AUTH_LOCK").pipe(Config.withDefault(900)),
    }),
    (c) =>
      AuthThrottle.layer({
        ...DEFAULT_AUTH_THROTTLE,
        maxPerAddress: c.maxPerAddress,
        maxPerUser: c.maxPerUser,
        windowMs: c.windowS * 1000,
        lockMs: c.lockS * 1000,
      }),
  ),
)

/** Mail to RELAY_TLSRPT_ADDRESS is stored as a received TLS report instead of being queued. */
export const IngressLayer = Listeners.pipe(
  Layer.provide(AuthThrottleFromEnv),
  Layer.provide(
    Layer.merge(
      IngressPolicyFromActivePolicy,
      withMemoryWatermark(
        withTlsReportMailbox(IngressEnqueueFromQueue).pipe(Layer.provide(ReportDomainsFromActivePolicy)),
      ),
    ),
  ),
)

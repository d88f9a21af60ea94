/**
 * OutboundDelivery: delivers one message to one destination domain under its effective policy,
 * trying next hops in order, reusing verified sessions, and returning per-recipient results with
 * the TLS evidence of every attempt — or the tagged failure whose `retry` the queue acts on.
 */
import type { Readable } from "node:stream"
import type { EffectivePolicy, PartnerTls } from "@mailconnect/policy"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { ClientCertificates } from "./client-certificates"
import { ClientCertRejected, type DeliveryError, withAttempts } from "./errors"
import { type AttemptEvidence, type CertificateEvidence, newAttempt } from "./evidence"
import { DnsResolver, type NextHop, resolveNextHops } from "./next-hops"
import { OutboundConfig } from "./options"
import { type PooledSession, SessionPool } from "./pool"
import { makeProbe, type ProbeReport, type ProbeRequest } from "./probe"
import { type ClientCertificate, openSession } from "./session"
import { type RecipientResult, resetSession, sendMessage } from "./transaction"
import { type AcceptedNames, acceptedNames } from "./verify"

export interface DeliveryRequest {
  readonly domain: string
  readonly recipients: ReadonlyArray<string>
  readonly sender: string
  /** A Buffer, or a function opening the message stream (called once per transaction actually started). */
  readonly body: Buffer | (() => Readable)
  readonly policy: EffectivePolicy
  /** Serial of the bundle the policy came from, recorded in the evidence. */
  readonly bundleSerial: number | undefined
  /** Default: the Effect Clock. */
  readonly now?: Date
}

export interface DeliveryReport {
  readonly domain: string
  /** `host:port` that took the message. */
  readonly server: string
  readonly recipients: ReadonlyArray<RecipientResult>
  readonly attempts: ReadonlyArray<AttemptEvidence>
  readonly reusedConnection: boolean
}

export interface OutboundDeliveryShape {
  readonly deliver: (request: DeliveryRequest) => Effect.Effect<DeliveryReport, DeliveryError>
  /** Connects, EHLO, STARTTLS, verifies, QUIT — no message. */
  readonly probe: (request: ProbeRequest) => Effect.Effect<ProbeReport>
}

const TLS_PHASES = new Set(["tls", "verify"])

/**
 * A pooled session was verified for these names under this policy: a recipient domain routed to
 * the same MX host by DNS must not reuse a session verified for another domain's names.
 */
const poolKey = (
  hop: NextHop,
  address: string,
  tls: PartnerTls,
  accept: AcceptedNames,
  client: string | undefined,
) => JSON.stringify([hop.host, address, hop.port, tls, accept, client ?? ""])

export const makeOutboundDelivery = Effect.gen(function* () {
  const settings = yield* OutboundConfig
  const dns = yield* DnsResolver
  const certificates = yield* ClientCertificates
  const pool = new SessionPool(settings.maxMessagesPerConnection, settings.idleTimeoutMs)
  yield* Effect.addFinalizer(() => Effect.sync(() => pool.closeAll()))
  const history = new Map<string, CertificateEvidence>()

  const clientCertificateFor = (tls: PartnerTls, server: string) =>
    Effect.gen(function* () {
      // Presented when the server asks: required for mtls, possible under any mode that names one.
      const name = tls.clientCertificate
      if (name === undefined && tls.mode !== "mtls") return undefined
      const found = name ? yield* certificates.get(name) : Option.none<ClientCertificate>()
      if (Option.isSome(found)) return found.value
      return yield* new ClientCertRejected({
        server,
        phase: "tls",
        detail: `client certificate ${name ?? "(none named)"} is not in this relay's configuration`,
        attempts: [],
        form: "unavailable",
        certificateName: name,
        reply: undefined,
      })
    })

  /** Opens (or takes from the pool) a verified session, as a scoped resource. */
  const acquire = (
    hop: NextHop,
    address: string,
    tls: PartnerTls,
    accept: AcceptedNames,
    attempt: AttemptEvidence,
    now: Date,
  ) =>
    Effect.gen(function* () {
      const client = yield* clientCertificateFor(tls, attempt.server)
      const key = poolKey(hop, address, tls, accept, client?.name)
      const pooled = pool.take(key)
      if (pooled) {
        pooled.session.transcript = attempt.transcript
        const reset = yield* Effect.promise(() =>
          resetSession(pooled.session).then(
            () => true,
            () => false,
          ),
        )
        if (reset) {
          attempt.address = address
          attempt.tls = pooled.tls
          return { pooled, reused: true }
        }
      }
      // A resumed session keeps the client identity and OpenSSL's chain verdict of the full
      // handshake: reuse a ticket only under the same client certificate and trust settings.
      const ticketKey = key
      const open = (plaintextOnly: boolean) =>
        Effect.tryPromise({
          try: () =>
            openSession({
              host: hop.host,
              accept,
              address,
              port: hop.port,
              tls,
              ehloName: settings.ehloName,
              timeouts: settings.timeouts,
              clientCertificate: client,
              tlsSession: pool.ticket(ticketKey),
              onTlsSession: (ticket) => pool.rememberTicket(ticketKey, ticket),
              now,
              previousCertificate: history.get(hop.host),
              plaintextOnly,
              attempt,
            }),
          catch: (error) => error as DeliveryError,
        })
      const session = yield* open(false).pipe(
        // Opportunistic: a failed handshake falls back to plaintext, as Postfix does.
        Effect.catchIf(
          (error) => tls.mode === "opportunistic" && TLS_PHASES.has(error.phase),
          () =>
            Effect.sync(() =>
              attempt.transcript.push({ direction: "C", line: "(reconnect without TLS)" }),
            ).pipe(Effect.zipRight(open(true))),
        ),
      )
      if (attempt.tls?.verification?.ok && attempt.tls.peer) history.set(hop.host, attempt.tls.peer)
      const fresh: PooledSession = { key, session, tls: attempt.tls, messages: 0, idleTimer: undefined }
      return { pooled: fresh, reused: false }
    })

  const deliverOnce = (
    request: DeliveryRequest,
    hop: NextHop,
    address: string,
    attempt: AttemptEvidence,
    now: Date,
  ) =>
    Effect.scoped(
      Effect.gen(function* () {
        let reusable = false
        const { pooled, reused } = yield* Effect.acquireRelease(
          acquire(
            hop,
            address,
            request.policy.tls,
            acceptedNames(request.policy.tls, hop, request.domain),
            attempt,
            now,
          ),
          ({ pooled }) => Effect.sync(() => (reusable ? pool.give(pooled) : pool.discard(pooled))),
        )
        const body = Buffer.isBuffer(request.body) ? request.body : request.body()
        const outcome = yield* Effect.tryPromise({
          try: () =>
            sendMessage(
              pooled.session,
              { sender: request.sender, recipients: request.recipients, body },
              {
                server: attempt.server,
                phase: "mail",
                minVersion: request.policy.tls.minVersion,
                clientCertificateName: request.policy.tls.clientCertificate,
              },
            ),
          catch: (error) => error as DeliveryError,
        })
        pooled.messages += 1
        reusable =
          !outcome.needsReset ||
          (yield* Effect.promise(() =>
            resetSession(pooled.session).then(
              () => true,
              () => false,
            ),
          ))
        return { recipients: outcome.recipients, reused }
      }),
    )

  const deliver = Effect.fn("OutboundDelivery.deliver")(function* (request: DeliveryRequest) {
    const now = request.now ?? new Date(yield* Clock.currentTimeMillis)
    const hops = yield* resolveNextHops(request.domain, request.policy.servers, settings.mxPort).pipe(
      Effect.provideService(DnsResolver, dns),
    )
    const attempts: Array<AttemptEvidence> = []
    let lastError: DeliveryError | undefined
    const targets = hops.flatMap((hop) => hop.addresses.map((address) => ({ hop, address })))
    for (const { hop, address } of targets.slice(0, settings.maxAddresses)) {
      const attempt = newAttempt({
        host: hop.host,
        port: hop.port,
        mode: request.policy.tls.mode,
        startedAt: now,
        bundleSerial: request.bundleSerial,
      })
      attempts.push(attempt)
      const result = yield* Effect.either(deliverOnce(request, hop, address, attempt, now))
      if (result._tag === "Right") {
        return {
          domain: request.domain,
          server: attempt.server,
          recipients: result.right.recipients,
          attempts,
          reusedConnection: result.right.reused,
        } satisfies DeliveryReport
      }
      lastError = result.left
      attempt.outcome = lastError.code
      // A permanent refusal, or a failure once the transaction started, is not retried elsewhere.
      if (lastError.retry === "bounce" || ["mail", "rcpt", "data", "rset"].includes(lastError.phase)) break
    }
    return yield* Effect.fail(withAttempts(lastError!, attempts))
  })

  const probe = makeProbe({ settings, dns, history, certificateFor: clientCertificateFor, pool })

  return { deliver, probe } satisfies OutboundDeliveryShape
})

export class OutboundDelivery extends Context.Tag("@mailconnect/OutboundDelivery")<
  OutboundDelivery,
  OutboundDeliveryShape
>() {
  /** Scoped: pooled connections are closed (QUIT) when the layer's scope closes. */
  static readonly layer = Layer.scoped(OutboundDelivery, makeOutboundDelivery)
}

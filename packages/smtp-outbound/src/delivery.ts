/**
 * OutboundDelivery: delivers one message to one destination domain under its effective policy.
 * The path of one attempt: resolve next hops → per address, its destination (concurrency, cached
 * verified sessions, breaker) → a cached session or `openSession` → the mail transaction → the
 * attempt's evidence. The report carries per-recipient results and the evidence of every attempt;
 * a failure is the tagged error of the last attempt, with all attempts attached.
 */
import { createHash } from "node:crypto"
import type { Readable } from "node:stream"
import type { EffectivePolicy, PartnerTls } from "@mailconnect/policy"
import type { TlsaRecord } from "@mailconnect/x509"
import { Clock, Context, Duration, Effect, Either, Layer, Option } from "effect"
import { type HopAuthority, planHops, type StsProblem } from "./authority"
import { connectionLost } from "./classify"
import { ClientCertificates } from "./client-certificates"
import { describeTlsa } from "./dane-verify"
import { type CachedSession, type Destination, Destinations } from "./destination"
import { type AttemptFailure, ClientCertRejected, type DeliveryError, withAttempts } from "./errors"
import type { AttemptEvidence, CertificateEvidence, TlsEvidence, TranscriptLine } from "./evidence"
import { DnsResolver, type NextHop } from "./next-hops"
import { OutboundConfig, type Timeouts } from "./options"
import { makeProbe, type ProbeReport, type ProbeRequest } from "./probe"
import { applyTlsDemand, type TlsDemand } from "./require-tls"
import { type ClientCertificate, openSession } from "./session"
import { TlsStandards, type TlsStandardsShape } from "./standards"
import { type RecipientResult, resetSession, sendMessage } from "./transaction"
import { type AcceptedNames, acceptedNames } from "./verify"

export interface DeliveryRequest extends TlsDemand {
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
const NO_STANDARDS: TlsStandardsShape = { dns: undefined, mtaSts: undefined }
const TRANSACTION_PHASES = new Set(["mail", "rcpt", "data", "rset"])

/**
 * The most one address's attempt may take, from taking or opening its session to the last reply:
 * every stage's own timeout added up (connect, greeting, TLS, DATA and eight commands). The
 * stages time themselves; this is the watchdog behind them, for a wait nothing else ends (a
 * library callback that never comes — nodemailer's RSET was one — or a server trickling bytes
 * that keep each stage's timer alive). Past it the attempt is a transient failure of the
 * transaction (not tried at the next address: the message may have gone out) and its session is
 * dropped: a job is never held for ever, and the message keeps to its timeline.
 */
export const attemptDeadlineMs = (t: Timeouts): number =>
  t.connectMs + t.greetingMs + t.tlsMs + t.dataMs + 8 * t.commandMs

/**
 * A destination is verified for these names under this policy with this client identity: a
 * recipient domain routed to the same MX host by DNS never reuses a session verified for another
 * domain's names, and a TLS ticket is resumed only under the same client certificate and trust.
 */
const destinationKey = (target: Target, client: string | undefined) => {
  const { hop, address, accept, authority } = target
  const standard = authority.tlsa ? authority.tlsa.map(describeTlsa) : (authority.mtaSts ?? null)
  return JSON.stringify([
    hop.host,
    address,
    hop.port,
    policyDigest(authority.tls),
    accept,
    standard,
    client ?? "",
  ])
}

/**
 * A digest of the whole TLS policy (its CA PEM included), computed once per policy object: a
 * bundle's objects live as long as the bundle, so the per-message key stays short.
 */
const policyDigests = new WeakMap<PartnerTls, string>()
const policyDigest = (tls: PartnerTls): string => {
  let digest = policyDigests.get(tls)
  if (digest === undefined) {
    digest = createHash("sha256").update(JSON.stringify(tls)).digest("base64")
    policyDigests.set(tls, digest)
  }
  return digest
}

/** The problem as evidence: the reason, and the cause's tag, form and rule (never its free text). */
const problemEvidence = (p: StsProblem): NonNullable<AttemptEvidence["mtaStsProblem"]> => ({
  reason: p.reason,
  ...(p.cause
    ? {
        cause: {
          _tag: p.cause._tag,
          ...(p.cause.form ? { form: p.cause.form } : {}),
          ...(p.cause.rule ? { rule: p.cause.rule } : {}),
        },
      }
    : {}),
})

interface Target {
  readonly hop: NextHop
  readonly address: string
  readonly server: string
  readonly accept: AcceptedNames
  /** Who authenticates this hop, and the TLS policy it is held to (`planHops`). */
  readonly authority: HopAuthority
  /** DANE hops: the TLSA records, and the DANE-TA reference names (MX host, next-hop domain). */
  readonly dane:
    | { readonly tlsa: ReadonlyArray<TlsaRecord>; readonly names: ReadonlyArray<string> }
    | undefined
}

/** What one address took: the recipients' results over a session with this TLS evidence. */
interface Sent {
  readonly recipients: ReadonlyArray<RecipientResult>
  readonly reused: boolean
  readonly tls: TlsEvidence | undefined
}

export const makeOutboundDelivery = Effect.gen(function* () {
  const settings = yield* OutboundConfig
  const dns = yield* DnsResolver
  const certificates = yield* ClientCertificates
  const destinations = yield* Destinations
  const standards = Option.getOrElse(yield* Effect.serviceOption(TlsStandards), () => NO_STANDARDS)
  /** The last certificate each host presented that passed: the pin-mismatch diagnosis compares with it. */
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

  /** A fresh verified session; opportunistic falls back to plaintext after a failed handshake (as Postfix). */
  const openFresh = (
    target: Target,
    tls: PartnerTls,
    client: ClientCertificate | undefined,
    destination: Destination,
    transcript: Array<TranscriptLine>,
    now: Date,
  ): Effect.Effect<CachedSession, AttemptFailure> => {
    const open = (plaintextOnly: boolean) =>
      openSession({
        server: target.server,
        host: target.hop.host,
        accept: target.accept,
        address: target.address,
        port: target.hop.port,
        tls,
        ...(target.dane ? { dane: target.dane } : {}),
        ehloName: settings.ehloName,
        timeouts: settings.timeouts,
        clientCertificate: client,
        tlsSession: destination.ticket(),
        onTlsSession: destination.rememberTicket,
        now,
        previousCertificate: history.get(target.hop.host),
        plaintextOnly,
        transcript,
      })
    return open(false).pipe(
      Effect.catchIf(
        (failure) => tls.mode === "opportunistic" && TLS_PHASES.has(failure.error.phase),
        (failure) =>
          Effect.sync(() => transcript.push({ direction: "C", line: "(reconnect without TLS)" })).pipe(
            Effect.zipRight(open(true)),
            // The certificate seen before the fallback stays the attempt's evidence.
            Effect.map((opened) => ({ ...opened, tls: opened.tls ?? failure.tls })),
          ),
      ),
      Effect.tap((opened) =>
        Effect.sync(() => {
          if (opened.tls?.verification?.ok && opened.tls.peer) history.set(target.hop.host, opened.tls.peer)
        }),
      ),
      Effect.map((opened) => ({ ...opened, messages: 0 })),
    )
  }

  /** One message over one address's destination: a cached session after RSET, or a fresh one. */
  const sendVia = (
    request: DeliveryRequest,
    target: Target,
    client: ClientCertificate | undefined,
    destination: Destination,
    transcript: Array<TranscriptLine>,
    now: Date,
  ): Effect.Effect<Sent, AttemptFailure> => {
    // The session this attempt holds: dropped if the attempt is cut short (its deadline), never
    // cached again mid-transaction.
    let inUse: CachedSession | undefined
    const attempt = Effect.gen(function* () {
      const tls = target.authority.tls
      let cached = yield* destination.takeSession
      inUse = cached
      let reused = false
      if (cached) {
        cached.session.transcript = transcript
        reused = yield* resetSession(cached.session)
        if (!reused) {
          // A refused RSET leaves the connection open: QUIT it (a dead one is only closed).
          destination.discard(cached)
          cached = undefined
          inUse = undefined
        }
      }
      if (!cached) {
        cached = yield* openFresh(target, tls, client, destination, transcript, now)
        inUse = cached
      }
      const session = cached
      const body = Buffer.isBuffer(request.body) ? request.body : request.body()
      const sent = yield* Effect.either(
        sendMessage(
          session.session,
          {
            sender: request.sender,
            recipients: request.recipients,
            body,
            ...(request.requireTls ? { requireTls: true } : {}),
          },
          {
            server: target.server,
            phase: "mail",
            minVersion: tls.minVersion,
            clientCertificateName: tls.clientCertificate,
          },
        ),
      )
      session.messages += 1
      const reusable =
        Either.isRight(sent) && (!sent.right.needsReset || (yield* resetSession(session.session)))
      inUse = undefined
      if (reusable) yield* destination.giveSession(session)
      else yield* Effect.sync(() => destination.discard(session))
      if (Either.isLeft(sent)) return yield* Effect.fail({ error: sent.left, tls: session.tls })
      return { recipients: sent.right.recipients, reused, tls: session.tls }
    })
    const deadline = attemptDeadlineMs(settings.timeouts)
    return attempt.pipe(
      Effect.onInterrupt(() =>
        Effect.sync(() => {
          if (inUse) destination.discard(inUse)
        }),
      ),
      Effect.timeoutFail({
        duration: Duration.millis(deadline),
        onTimeout: (): AttemptFailure => ({
          error: connectionLost(
            {
              server: target.server,
              phase: "mail",
              minVersion: target.authority.tls.minVersion,
              clientCertificateName: target.authority.tls.clientCertificate,
            },
            `no end to the attempt within its deadline (${Math.round(deadline / 1000)} s, all stage timeouts together)`,
            true,
          ),
          tls: inUse?.tls,
        }),
      }),
    )
  }

  /** The attempt at one address, through its destination, as evidence. */
  const tryAddress = (request: DeliveryRequest, target: Target, now: Date) =>
    Effect.gen(function* () {
      const tls = target.authority.tls
      const transcript: Array<TranscriptLine> = []
      const outcome = yield* Effect.either(
        Effect.gen(function* () {
          const client = yield* clientCertificateFor(tls, target.server).pipe(
            Effect.mapError((error): AttemptFailure => ({ error, tls: undefined })),
          )
          const key = destinationKey(target, client?.name)
          return yield* destinations.run(key, request.policy.partner?.name, (destination) =>
            sendVia(request, target, client, destination, transcript, now),
          )
        }),
      )
      const attempt: AttemptEvidence = {
        server: target.server,
        host: target.hop.host,
        port: target.hop.port,
        address: target.address,
        mode: tls.mode,
        source: target.authority.source,
        ...(target.authority.mtaSts ? { mtaSts: target.authority.mtaSts } : {}),
        ...(target.authority.tlsa ? { tlsa: target.authority.tlsa.map(describeTlsa) } : {}),
        ...(target.authority.mtaStsProblem
          ? { mtaStsProblem: problemEvidence(target.authority.mtaStsProblem) }
          : {}),
        startedAt: now.toISOString(),
        bundleSerial: request.bundleSerial,
        tls: Either.isRight(outcome) ? outcome.right.tls : outcome.left.tls,
        transcript,
        outcome: Either.isRight(outcome) ? "ok" : outcome.left.error.code,
      }
      return { attempt, outcome: Either.mapLeft(outcome, (failure) => failure.error) }
    })

  const deliver = Effect.fnUntraced(function* (request: DeliveryRequest) {
    const now = request.now ?? new Date(yield* Clock.currentTimeMillis)
    const planned = yield* planHops(request.policy, dns, standards, settings.mxPort).pipe(
      Effect.flatMap((hops) => applyTlsDemand(hops, request, request.domain)),
    )
    const targets = planned
      .flatMap(({ hop, authority }) => hop.addresses.map((address) => ({ hop, authority, address })))
      .slice(0, settings.maxAddresses)
      .map(
        ({ hop, authority, address }): Target => ({
          hop,
          address,
          authority,
          server: `${hop.host}:${hop.port}`,
          accept: acceptedNames(authority.tls, hop, request.domain),
          dane: authority.tlsa ? { tlsa: authority.tlsa, names: [hop.host, request.domain] } : undefined,
        }),
      )
    const attempts: Array<AttemptEvidence> = []
    let lastError: DeliveryError | undefined
    for (const target of targets) {
      const { attempt, outcome } = yield* tryAddress(request, target, now)
      attempts.push(attempt)
      if (Either.isRight(outcome)) {
        return {
          domain: request.domain,
          server: target.server,
          recipients: outcome.right.recipients,
          attempts,
          reusedConnection: outcome.right.reused,
        } satisfies DeliveryReport
      }
      lastError = outcome.left
      // A permanent refusal, or a failure once the transaction started, is not retried elsewhere;
      // a server without REQUIRETLS got no MAIL FROM, so the next one may still carry the message.
      if (lastError._tag === "RequireTlsUnmet") continue
      if (lastError.retry === "bounce" || TRANSACTION_PHASES.has(lastError.phase)) break
    }
    return yield* Effect.fail(withAttempts(lastError!, attempts))
  })

  const probe = makeProbe({ settings, dns, standards, history, certificateFor: clientCertificateFor })

  return { deliver, probe } satisfies OutboundDeliveryShape
})

export class OutboundDelivery extends Context.Tag("@mailconnect/OutboundDelivery")<
  OutboundDelivery,
  OutboundDeliveryShape
>() {
  /** Scoped: cached sessions are closed (QUIT) when the layer's scope closes. Also provides Destinations. */
  static readonly layer = Layer.scoped(OutboundDelivery, makeOutboundDelivery).pipe(
    Layer.provideMerge(Destinations.layerFromConfig),
  )
}

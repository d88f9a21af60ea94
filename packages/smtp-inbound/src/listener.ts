/**
 * One smtp-server listener — submission (STARTTLS), submissions (implicit TLS), inbound MX or
 * the legacy-TLS inbound MX — with the handlers that enforce policy. smtp-server does the protocol; we decide who may send
 * what and when a message counts as accepted (only after it is durably queued).
 *
 * Trusts: the active policy bundle and the users file. Touches: the queue (enqueue) only.
 * Security defaults: our own key and certificate (never smtp-server's built-in one), TLS ≥ the
 * configured minimum (1.2 by default), AUTH never over plaintext, no reverse DNS lookups.
 * Only `mx-legacy` negotiates TLS 1.0/1.1 (OpenSSL security level 0 on that listener alone), and
 * it carries mail only from partners whose agreement grants `legacyTls` (decisions.ts).
 * Envelope addresses are normalised once, as they arrive (envelope.ts); everything after — the
 * checks, the lookups, the queued job — uses that form, never smtp-server's decoded one.
 * Customer connectors (connectors.ts) apply on the inbound MX listener only: a session matching one
 * may relay to any recipient for the connector's sender domains, through the same Enqueue as
 * submission; everything else keeps the inbound MX rules.
 * REQUIRETLS (RFC 8689) is advertised on every listener; smtp-server shows it only inside TLS and
 * refuses `MAIL FROM … REQUIRETLS` in plaintext. The demand (or a `TLS-Required: No` header
 * without it) travels with the message to delivery (tls-required.ts).
 */

import type { X509Certificate } from "node:crypto"
import type { TLSSocket } from "node:tls"
import type { TlsVersion } from "@mailconnect/policy"
import { peerChain } from "@mailconnect/x509"
import { Clock, Effect, Runtime } from "effect"
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from "smtp-server"
import { decideConnector } from "./connectors"
import type { DataBudget } from "./data-budget"
import {
  anonymousSender,
  checkMxRecipient,
  checkMxSender,
  checkSubmissionRecipient,
  checkSubmissionSender,
  type SenderContext,
} from "./decisions"
import type { Enqueue } from "./enqueue"
import { normalizeEnvelopeAddress } from "./envelope"
import type { IngressPolicy } from "./ingress-policy"
import { receivedHeader } from "./received"
import { type Refusal, type RefusalReason, refusal, toSmtpError } from "./replies"
import "./status-codes"
import type { VerificationCache, VerificationCacheOptions } from "./auth-cache"
import type { AuthThrottleShape } from "./auth-throttle"
import { type ClientEvent, type ClientLimitsConfig, makeClientLimits } from "./client-limits"
import { headerSection, tlsDemandOf } from "./tls-required"
import { type UserRecord, verifyPassword } from "./users"

export type ListenerKind = "submission" | "submissions" | "mx" | "mx-legacy"

/** The legacy listener's floor: TLS 1.0 and 1.1 need OpenSSL's security level 0 (SHA-1 signatures). */
export const LEGACY_TLS = { minVersion: "TLSv1", ciphers: "DEFAULT:@SECLEVEL=0" } as const

export interface ListenerConfig {
  readonly kind: ListenerKind
  readonly host: string
  readonly port: number
  /**
   * Pause before the 220 greeting, in ms. A client that talks before it is an early talker
   * (spamware) and is dropped with 421 — worth it on inbound MX; on submission it only costs
   * every connection the delay (default: 100 on MX, 0 on submission).
   */
  readonly greetingDelayMs?: number
}

export interface IngressTls {
  readonly key: string
  readonly cert: string
  readonly minVersion: TlsVersion
  readonly ciphers?: string
}

export interface IngressLimits {
  readonly maxMessageBytes: number
  readonly maxRecipients: number
  readonly socketTimeoutMs: number
  /**
   * Commands that move no mail (NOOP, RSET, VRFY, HELP) a session may send between two DATA; past
   * it the session gets 421 4.7.0 and is closed. Each renews the idle timeout, so without it a
   * client holds a session forever at no cost. Absent or 0: no limit.
   */
  readonly junkCommandLimit?: number
  /** Concurrent sessions per listener; beyond it new connections get 421 (slowloris bound). */
  readonly maxClients?: number
  /** How long open sessions may go on after a drain starts, before 421. */
  readonly drainTimeoutMs: number
  /** Bytes of message bodies all listeners may hold at once (default: no budget). */
  readonly maxBufferedBytes?: number
  /** Per-address connection limits of each listener (`client-limits.ts`); absent: none. */
  readonly perAddress?: ClientLimitsConfig
  /** Successful logins remembered per process (`auth-cache.ts`); absent or 0 entries: none. */
  readonly authCache?: VerificationCacheOptions
}

/** A message this listener queued (the 250 is being sent): the delivery log's session-in line. */
export interface AcceptedMessage {
  readonly queueId: string
  readonly at: number
  readonly client: { readonly address: string; readonly helo: string }
  /** undefined: plaintext. */
  readonly tls: { readonly protocol: string; readonly cipher: string } | undefined
  /** The AUTH user, never a password. */
  readonly user: string | undefined
  readonly connector: string | undefined
  readonly sender: string
  readonly recipients: ReadonlyArray<string>
  /** The header block as received (before our Received: line), for the Message-ID. */
  readonly headers: string
  readonly requireTls: boolean
}

export interface IngressEvents {
  /** `tls`: the negotiated protocol (e.g. `TLSv1.3`), or `plaintext`. */
  readonly accepted: (kind: ListenerKind, bytes: number, tls: string, message: AcceptedMessage) => void
  readonly refused: (kind: ListenerKind, reason: RefusalReason | "auth-failed" | "auth-throttled") => void
}

export interface ListenerDeps {
  readonly hostname: string
  readonly tls: IngressTls
  readonly limits: IngressLimits
  readonly queue: Enqueue["Type"]
  readonly policy: IngressPolicy["Type"]
  readonly users: () => ReadonlyMap<string, UserRecord>
  readonly events: IngressEvents
  readonly runtime: Runtime.Runtime<never>
  /** Failed AUTH throttled fleet-wide; absent: every failure waits the fixed minimum delay only. */
  readonly authThrottle?: AuthThrottleShape
  /** The memory budget for message bodies, shared by the ingress's listeners. */
  readonly dataBudget?: DataBudget
  /** Successful logins remembered (`auth-cache.ts`); absent: every login runs scrypt. */
  readonly verifications?: VerificationCache
}

interface SessionState {
  chain: ReadonlyArray<X509Certificate>
  sender: SenderContext | undefined
  allowedDomains: ReadonlyArray<string>
  /** The connector this transaction relays through (inbound MX only). */
  connector: string | undefined
  /** What recipients that are not ours get when a connector nearly matched. */
  connectorMiss: Refusal | undefined
  /** The negotiated protocol (`socket.getProtocol()`), undefined before TLS. */
  protocol: string | undefined
  /** The current transaction's envelope, normalised (A-label domains). */
  mailFrom: string
  recipients: Array<string>
}

/** Without a throttle every failed AUTH still waits this long. */
const MIN_AUTH_DELAY_MS = 250

const overBudget = refusal(
  452,
  "4.3.1",
  "Insufficient system storage: too much mail in flight; try again later",
  "memory-budget",
)

const storageFull = refusal(
  452,
  "4.3.1",
  "Insufficient system storage: the queue is nearly full; try again later",
  "storage-full",
)

const notQueued = refusal(
  451,
  "4.3.0",
  "Queue temporarily unavailable, message not accepted; try again later",
  "queue-unavailable",
)

/**
 * smtp-server's record of the negotiated cipher (`getCipher()`). Its `version` is the protocol
 * that introduced the cipher (`TLSv1.0` for ECDHE-ECDSA-AES128-SHA even over TLS 1.2), not the
 * negotiated protocol: that is `getProtocol()`, kept at onSecure.
 */
const cipherOf = (session: SMTPServerSession) =>
  (session as { tlsOptions?: { name?: string; version?: string } }).tlsOptions

const rfc5322Now = (ms: number) => new Date(ms).toUTCString().replace("GMT", "+0000")

export const createListener = (config: ListenerConfig, deps: ListenerDeps): SMTPServer => {
  const sessions = new Map<string, SessionState>()
  const state = (session: SMTPServerSession): SessionState => {
    const existing = sessions.get(session.id)
    if (existing) return existing
    const created: SessionState = {
      chain: [],
      sender: undefined,
      allowedDomains: [],
      connector: undefined,
      connectorMiss: undefined,
      protocol: undefined,
      mailFrom: "",
      recipients: [],
    }
    sessions.set(session.id, created)
    return created
  }
  const run = <A>(effect: Effect.Effect<A>) => Runtime.runPromise(deps.runtime)(effect)
  const refuse = (r: Refusal, callback: (err?: Error | null) => void) => {
    deps.events.refused(config.kind, r.reason)
    callback(toSmtpError(r))
  }
  const isLegacy = config.kind === "mx-legacy"
  const isMx = config.kind === "mx" || isLegacy
  const tls = isLegacy ? { ...deps.tls, ...LEGACY_TLS } : deps.tls
  // Per listener: a busy submission port does not use up an address's MX allowance.
  const perAddress = deps.limits.perAddress ? makeClientLimits(deps.limits.perAddress) : undefined

  const options: SMTPServerOptions & {
    maxRecipients: number
    greetingDelay: number
    junkCommandLimit: number
  } = {
    secure: config.kind === "submissions",
    key: tls.key,
    cert: tls.cert,
    minVersion: tls.minVersion,
    ...(tls.ciphers ? { ciphers: tls.ciphers } : {}),
    name: deps.hostname,
    banner: "mailconnect",
    // patches/smtp-server@3.21.6.patch: the delay was a fixed 100 ms.
    greetingDelay: config.greetingDelayMs ?? (isMx ? 100 : 0),
    // The same patch: Postfix's smtpd_junk_command_limit, reset by each DATA.
    junkCommandLimit: deps.limits.junkCommandLimit ?? 0,
    size: deps.limits.maxMessageBytes,
    maxRecipients: deps.limits.maxRecipients,
    socketTimeout: deps.limits.socketTimeoutMs,
    ...(deps.limits.maxClients ? { maxClients: deps.limits.maxClients } : {}),
    closeTimeout: deps.limits.drainTimeoutMs,
    disableReverseLookup: true,
    hideENHANCEDSTATUSCODES: false,
    hideDSN: true,
    hideREQUIRETLS: false,
    logger: false,
    authOptional: isMx,
    allowInsecureAuth: false,
    authMethods: ["PLAIN", "LOGIN"],
    disabledCommands: isMx ? ["AUTH"] : [],
    // Inbound MX asks for a client certificate but decides per sending partner at MAIL FROM.
    requestCert: isMx,
    rejectUnauthorized: false,

    onConnect(session, callback) {
      if (!perAddress) return callback()
      run(perAddress.admit(session.id, session.remoteAddress)).then((over) => {
        if (!over) return callback()
        void run(
          Effect.logWarning("connection refused: per-address limit").pipe(
            Effect.annotateLogs({ listener: config.kind, address: session.remoteAddress }),
          ),
        )
        refuse(over, callback)
      })
    },

    onSecure(socket, session, callback) {
      const s = state(session)
      s.protocol = (socket as TLSSocket).getProtocol() ?? undefined
      if (isMx) s.chain = peerChain(socket as TLSSocket)
      callback()
    },

    onAuth(auth, session, callback) {
      const attempt = { address: session.remoteAddress, user: (auth.username ?? "").toLowerCase() }
      const throttle = deps.authThrottle
      // A failure is answered after the throttle's delay (a fixed minimum without one).
      const fail = () =>
        run(
          (throttle ? throttle.failed(attempt) : Effect.succeed(MIN_AUTH_DELAY_MS)).pipe(
            Effect.flatMap((ms) => Effect.sleep(ms)),
          ),
        ).then(() => {
          void run(
            Effect.logWarning("AUTH failed").pipe(
              Effect.annotateLogs({ listener: config.kind, address: attempt.address, user: attempt.user }),
            ),
          )
          deps.events.refused(config.kind, "auth-failed")
          callback(
            Object.assign(new Error("5.7.8 Authentication credentials invalid"), { responseCode: 535 }),
          )
        })
      const verify = () => {
        const user = deps.users().get(auth.username ?? "")
        if (!user || auth.method === "XOAUTH2" || typeof auth.password !== "string") return void fail()
        const password = auth.password
        const cache = deps.verifications
        const known = cache ? run(cache.knows(user.name, user.hash, password)) : Promise.resolve(false)
        known
          .then((hit) => hit || verifyPassword(password, user.hash))
          .then(
            (ok) => {
              if (!ok) return void fail()
              if (cache) void run(cache.remember(user.name, user.hash, password))
              if (throttle) void run(throttle.succeeded(attempt))
              state(session).allowedDomains = user.domains
              callback(null, { user: user.name })
            },
            () => void fail(),
          )
      }
      if (!throttle) return verify()
      run(throttle.check(attempt)).then((lock) => {
        if (lock._tag === "Open") return verify()
        void run(
          Effect.logWarning("AUTH refused: too many failures").pipe(
            Effect.annotateLogs({
              listener: config.kind,
              address: attempt.address,
              user: attempt.user,
              lock: lock.scope,
            }),
          ),
        )
        deps.events.refused(config.kind, "auth-throttled")
        callback(
          Object.assign(new Error("4.7.0 Too many failed authentication attempts; try again later"), {
            responseCode: 454,
          }),
        )
      })
    },

    onMailFrom(address, session, callback) {
      const s = state(session)
      s.sender = undefined
      s.connector = undefined
      s.connectorMiss = undefined
      s.mailFrom = ""
      s.recipients = []
      const normalized = normalizeEnvelopeAddress(address.address, "sender")
      if ("refusal" in normalized) return refuse(normalized.refusal, callback)
      const sender = normalized.address
      if (!isMx) {
        // smtp-server has already refused MAIL without AUTH (530 5.7.0); AUTH needs TLS.
        const problem = checkSubmissionSender(sender, s.allowedDomains)
        if (problem) return refuse(problem, callback)
        s.mailFrom = sender
        return callback()
      }
      run(
        Effect.gen(function* () {
          const active = yield* deps.policy.current
          if (!active)
            return { refusal: refusal(451, "4.3.0", "Policy not loaded yet, try again later", "no-policy") }
          const now = yield* Clock.currentTimeMillis
          const tlsState = {
            secure: session.secure,
            protocol: session.secure ? s.protocol : undefined,
            clientChain: s.chain,
          }
          // Connectors are for the standard MX port; the legacy listener stays partners-only.
          const connector = isLegacy
            ? undefined
            : decideConnector({
                connectors: active.connectors,
                session: { remoteAddress: session.remoteAddress, ...tlsState },
                sender,
                now,
              })
          if (connector?._tag === "Refuse") return { refusal: connector.refusal }
          if (connector?._tag === "Relay")
            return { context: anonymousSender, connector: connector.connector.name }
          const connectorMiss = connector?.remote
          const checked = checkMxSender({
            lookup: active.lookup,
            partners: active.partners,
            sender,
            tls: tlsState,
            legacyListener: isLegacy,
            now,
          })
          return "refusal" in checked ? checked : { ...checked, connectorMiss }
        }),
      ).then(
        (result) => {
          if ("refusal" in result) return refuse(result.refusal, callback)
          s.sender = result.context
          s.connector = "connector" in result ? result.connector : undefined
          s.connectorMiss = "connectorMiss" in result ? result.connectorMiss : undefined
          s.mailFrom = sender
          callback()
        },
        () =>
          refuse(refusal(451, "4.3.0", "Temporary policy failure, try again later", "no-policy"), callback),
      )
    },

    onRcptTo(address, session, callback) {
      const s = state(session)
      const normalized = normalizeEnvelopeAddress(address.address, "recipient")
      if ("refusal" in normalized) return refuse(normalized.refusal, callback)
      const recipient = normalized.address
      run(deps.policy.current).then(
        (active) => {
          if (!active)
            return refuse(
              refusal(451, "4.3.0", "Policy not loaded yet, try again later", "no-policy"),
              callback,
            )
          const problem =
            isMx && s.connector === undefined
              ? checkMxRecipient(active.lookup, recipient, s.sender ?? anonymousSender)
              : checkSubmissionRecipient(active.lookup, s.mailFrom, recipient)
          if (problem)
            return refuse(
              problem.reason === "relay-denied" && s.connectorMiss ? s.connectorMiss : problem,
              callback,
            )
          s.recipients.push(recipient)
          callback()
        },
        () =>
          refuse(refusal(451, "4.3.0", "Temporary policy failure, try again later", "no-policy"), callback),
      )
    },

    onData(stream, session, callback) {
      const chunks: Array<Buffer> = []
      let bytes = 0
      // Bytes this transaction holds of the shared budget; over: it went over and buffers no more.
      let held = 0
      let over = false
      const budget = deps.dataBudget
      const release = () => {
        budget?.release(held)
        held = 0
      }
      stream.on("data", (chunk: Buffer) => {
        bytes += chunk.length
        if (bytes > deps.limits.maxMessageBytes || over) return
        if (budget && !budget.take(chunk.length)) {
          over = true
          chunks.length = 0
          release()
          return
        }
        held += chunk.length
        chunks.push(chunk)
      })
      stream.on("error", (error) => {
        release()
        callback(error)
      })
      stream.on("end", () => {
        if (over) return refuse(overBudget, callback)
        if ((stream as { sizeExceeded?: boolean }).sizeExceeded || bytes > deps.limits.maxMessageBytes) {
          release()
          return refuse(
            refusal(
              552,
              "5.3.4",
              `Message size exceeds fixed maximum message size ${deps.limits.maxMessageBytes}`,
              "message-too-large",
            ),
            callback,
          )
        }
        const s = state(session)
        const sender = s.mailFrom
        const recipients = [...s.recipients]
        const cipher = session.secure ? cipherOf(session)?.name : undefined
        // smtp-server sets it only for MAIL FROM … REQUIRETLS over TLS.
        const requireTls = (session.envelope as { requireTLS?: boolean }).requireTLS === true
        run(
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            const messageId = yield* deps.queue.newQueueId
            const header = receivedHeader({
              heloName: session.hostNameAppearsAs ?? "",
              remoteAddress: session.remoteAddress,
              hostname: deps.hostname,
              queueId: messageId,
              tls: session.secure
                ? { protocol: s.protocol ?? "TLS", cipher: cipher ?? "unknown" }
                : undefined,
              authenticated: Boolean(session.user),
              connector: s.connector,
              recipient: recipients.length === 1 ? recipients[0] : undefined,
              date: rfc5322Now(now),
            })
            const received = Buffer.from(header, "latin1")
            const body = Buffer.concat([received, ...chunks])
            // The header block as the client sent it (before our Received: line), decoded once.
            const headers = headerSection(body.subarray(received.length))
            return yield* deps.queue
              .enqueue({
                messageId,
                sender,
                recipients,
                body,
                arrivalAt: now,
                ...tlsDemandOf(requireTls, headers),
              })
              .pipe(
                Effect.map((queued) => ({ ...queued, at: now, headers })),
                // The reason stays in the log (the sender sees only 451 4.3.0 or 452 4.3.1).
                Effect.tapError((e) =>
                  Effect.logWarning("message not queued").pipe(
                    Effect.annotateLogs(
                      e._tag === "StorageFull"
                        ? { queueId: messageId, redisUsedBytes: e.usedBytes, redisMaxBytes: e.maxBytes }
                        : { queueId: messageId, operation: e.operation, detail: e.detail },
                    ),
                  ),
                ),
                Effect.either,
              )
          }),
        ).then(
          (result) => {
            release()
            if (result._tag === "Left")
              return refuse(result.left._tag === "StorageFull" ? storageFull : notQueued, callback)
            deps.events.accepted(config.kind, bytes, session.secure ? (s.protocol ?? "TLS") : "plaintext", {
              queueId: result.right.messageId,
              at: result.right.at,
              client: { address: session.remoteAddress, helo: session.hostNameAppearsAs ?? "" },
              tls: session.secure
                ? { protocol: s.protocol ?? "TLS", cipher: cipher ?? "unknown" }
                : undefined,
              user: typeof session.user === "string" ? session.user : undefined,
              connector: s.connector,
              sender,
              recipients,
              headers: result.right.headers,
              requireTls,
            })
            callback(null, `2.0.0 Ok: queued as ${result.right.messageId}`)
          },
          // A defect is still no 250 (and no crash): the sender tries again later.
          () => {
            release()
            refuse(notQueued, callback)
          },
        )
      })
    },

    onClose(session) {
      sessions.delete(session.id)
      perAddress?.release(session.id)
    },
  }
  // Per-address MAIL and RCPT rates: counted before the command's own checks.
  const rated =
    <A>(
      event: ClientEvent,
      hook: (a: A, session: SMTPServerSession, callback: (err?: Error | null) => void) => void,
    ) =>
    (a: A, session: SMTPServerSession, callback: (err?: Error | null) => void) => {
      if (!perAddress?.limits(event)) return hook(a, session, callback)
      run(perAddress.count(event, session.remoteAddress)).then((over) => {
        if (!over) return hook(a, session, callback)
        void run(
          Effect.logWarning(`${event} refused: per-address rate`).pipe(
            Effect.annotateLogs({ listener: config.kind, address: session.remoteAddress }),
          ),
        )
        refuse(over, callback)
      })
    }
  if (options.onMailFrom) options.onMailFrom = rated("message", options.onMailFrom)
  if (options.onRcptTo) options.onRcptTo = rated("recipient", options.onRcptTo)
  return new SMTPServer(options)
}

/**
 * One smtp-server listener — submission (STARTTLS), submissions (implicit TLS) or inbound MX —
 * with the handlers that enforce policy. smtp-server does the protocol; we decide who may send
 * what and when a message counts as accepted (only after it is durably queued).
 *
 * Trusts: the active policy bundle and the users file. Touches: the queue (enqueue) only.
 * Security defaults: our own key and certificate (never smtp-server's built-in one), TLS ≥ the
 * configured minimum (1.2 by default), AUTH never over plaintext, no reverse DNS lookups.
 */
import type { X509Certificate } from "node:crypto"
import type { TLSSocket } from "node:tls"
import type { DeliveryQueueShape, PolicyView } from "@mailconnect/delivery-queue"
import { newMessageId } from "@mailconnect/delivery-queue"
import type { TlsVersion } from "@mailconnect/policy"
import { peerChain } from "@mailconnect/x509"
import { Clock, Effect, Runtime } from "effect"
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from "smtp-server"
import {
  checkMxRecipient,
  checkMxSender,
  checkSubmissionRecipient,
  checkSubmissionSender,
  type SenderContext,
} from "./decisions"
import { receivedHeader } from "./received"
import { type Refusal, type RefusalReason, refusal, toSmtpError } from "./replies"
import "./status-codes"
import { type UserRecord, verifyPassword } from "./users"

export type ListenerKind = "submission" | "submissions" | "mx"

export interface ListenerConfig {
  readonly kind: ListenerKind
  readonly host: string
  readonly port: number
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
  /** Concurrent sessions per listener; beyond it new connections get 421 (slowloris bound). */
  readonly maxClients?: number
  /** How long open sessions may go on after a drain starts, before 421. */
  readonly drainTimeoutMs: number
}

export interface IngressEvents {
  /** `tls`: the negotiated protocol (e.g. `TLSv1.3`), or `plaintext`. */
  readonly accepted: (kind: ListenerKind, bytes: number, tls: string) => void
  readonly refused: (kind: ListenerKind, reason: RefusalReason | "auth-failed") => void
}

export interface ListenerDeps {
  readonly hostname: string
  readonly tls: IngressTls
  readonly limits: IngressLimits
  readonly queue: DeliveryQueueShape
  readonly policy: PolicyView["Type"]
  readonly users: () => ReadonlyMap<string, UserRecord>
  readonly events: IngressEvents
  readonly runtime: Runtime.Runtime<never>
}

interface SessionState {
  chain: ReadonlyArray<X509Certificate>
  sender: SenderContext | undefined
  allowedDomains: ReadonlyArray<string>
}

const notQueued = refusal(
  451,
  "4.3.0",
  "Queue temporarily unavailable, message not accepted; try again later",
  "queue-unavailable",
)

const rfc5322Now = (ms: number) => new Date(ms).toUTCString().replace("GMT", "+0000")

export const createListener = (config: ListenerConfig, deps: ListenerDeps): SMTPServer => {
  const sessions = new Map<string, SessionState>()
  const state = (session: SMTPServerSession): SessionState => {
    const existing = sessions.get(session.id)
    if (existing) return existing
    const created: SessionState = { chain: [], sender: undefined, allowedDomains: [] }
    sessions.set(session.id, created)
    return created
  }
  const run = <A>(effect: Effect.Effect<A>) => Runtime.runPromise(deps.runtime)(effect)
  const refuse = (r: Refusal, callback: (err?: Error | null) => void) => {
    deps.events.refused(config.kind, r.reason)
    callback(toSmtpError(r))
  }
  const isMx = config.kind === "mx"

  const options: SMTPServerOptions & { maxRecipients: number } = {
    secure: config.kind === "submissions",
    key: deps.tls.key,
    cert: deps.tls.cert,
    minVersion: deps.tls.minVersion,
    ...(deps.tls.ciphers ? { ciphers: deps.tls.ciphers } : {}),
    name: deps.hostname,
    banner: "mailconnect",
    size: deps.limits.maxMessageBytes,
    maxRecipients: deps.limits.maxRecipients,
    socketTimeout: deps.limits.socketTimeoutMs,
    ...(deps.limits.maxClients ? { maxClients: deps.limits.maxClients } : {}),
    closeTimeout: deps.limits.drainTimeoutMs,
    disableReverseLookup: true,
    hideENHANCEDSTATUSCODES: false,
    hideDSN: true,
    logger: false,
    authOptional: isMx,
    allowInsecureAuth: false,
    authMethods: ["PLAIN", "LOGIN"],
    disabledCommands: isMx ? ["AUTH"] : [],
    // Inbound MX asks for a client certificate but decides per sending partner at MAIL FROM.
    requestCert: isMx,
    rejectUnauthorized: false,

    onSecure(socket, session, callback) {
      if (isMx) state(session).chain = peerChain(socket as TLSSocket)
      callback()
    },

    onAuth(auth, session, callback) {
      const user = deps.users().get(auth.username ?? "")
      const fail = () => {
        deps.events.refused(config.kind, "auth-failed")
        callback(Object.assign(new Error("5.7.8 Authentication credentials invalid"), { responseCode: 535 }))
      }
      if (!user || auth.method === "XOAUTH2" || typeof auth.password !== "string") return fail()
      verifyPassword(auth.password, user.hash).then(
        (ok) => {
          if (!ok) return fail()
          state(session).allowedDomains = user.domains
          callback(null, { user: user.name })
        },
        () => fail(),
      )
    },

    onMailFrom(address, session, callback) {
      const s = state(session)
      if (!isMx) {
        // smtp-server has already refused MAIL without AUTH (530 5.7.0); AUTH needs TLS.
        const problem = checkSubmissionSender(address.address, s.allowedDomains)
        return problem ? refuse(problem, callback) : callback()
      }
      run(
        Effect.gen(function* () {
          const active = yield* deps.policy.current
          if (!active)
            return { refusal: refusal(451, "4.3.0", "Policy not loaded yet, try again later", "no-policy") }
          const now = yield* Clock.currentTimeMillis
          return checkMxSender(
            active.lookup,
            address.address,
            { secure: session.secure, clientChain: s.chain },
            now,
          )
        }),
      ).then(
        (result) => {
          if ("refusal" in result) return refuse(result.refusal, callback)
          s.sender = result.context
          callback()
        },
        () =>
          refuse(refusal(451, "4.3.0", "Temporary policy failure, try again later", "no-policy"), callback),
      )
    },

    onRcptTo(address, session, callback) {
      const s = state(session)
      run(deps.policy.current).then(
        (active) => {
          if (!active)
            return refuse(
              refusal(451, "4.3.0", "Policy not loaded yet, try again later", "no-policy"),
              callback,
            )
          const problem = isMx
            ? checkMxRecipient(
                active.lookup,
                address.address,
                s.sender ?? { partner: undefined, verifiedMember: false },
              )
            : checkSubmissionRecipient(
                active.lookup,
                session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
                address.address,
              )
          return problem ? refuse(problem, callback) : callback()
        },
        () =>
          refuse(refusal(451, "4.3.0", "Temporary policy failure, try again later", "no-policy"), callback),
      )
    },

    onData(stream, session, callback) {
      const chunks: Array<Buffer> = []
      let bytes = 0
      stream.on("data", (chunk: Buffer) => {
        bytes += chunk.length
        if (bytes <= deps.limits.maxMessageBytes) chunks.push(chunk)
      })
      stream.on("error", (error) => callback(error))
      stream.on("end", () => {
        if ((stream as { sizeExceeded?: boolean }).sizeExceeded || bytes > deps.limits.maxMessageBytes) {
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
        const envelope = session.envelope
        const sender = envelope.mailFrom ? envelope.mailFrom.address : ""
        const recipients = envelope.rcptTo.map((r) => r.address)
        const socketTls = session.secure
          ? (session as { tlsOptions?: { name?: string; version?: string } }).tlsOptions
          : undefined
        run(
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            const messageId = newMessageId(now)
            const header = receivedHeader({
              heloName: session.hostNameAppearsAs ?? "",
              remoteAddress: session.remoteAddress,
              hostname: deps.hostname,
              queueId: messageId,
              tls: socketTls
                ? { protocol: socketTls.version ?? "TLS", cipher: socketTls.name ?? "unknown" }
                : undefined,
              authenticated: Boolean(session.user),
              recipient: recipients.length === 1 ? recipients[0] : undefined,
              date: rfc5322Now(now),
            })
            const body = Buffer.concat([Buffer.from(header, "latin1"), ...chunks])
            return yield* deps.queue
              .enqueue({ messageId, sender, recipients, body, arrivalAt: now })
              .pipe(Effect.either)
          }),
        ).then(
          (result) => {
            if (result._tag === "Left") return refuse(notQueued, callback)
            deps.events.accepted(config.kind, bytes, socketTls?.version ?? "plaintext")
            callback(null, `2.0.0 Ok: queued as ${result.right.messageId}`)
          },
          // A defect is still no 250 (and no crash): the sender tries again later.
          () => refuse(notQueued, callback),
        )
      })
    },

    onClose(session) {
      sessions.delete(session.id)
    },
  }
  return new SMTPServer(options)
}

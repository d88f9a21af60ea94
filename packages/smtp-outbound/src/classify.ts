/**
 * Turning what the network, OpenSSL and nodemailer report into the failure taxonomy. nodemailer
 * reports every handshake failure as ESOCKET/ETLS/ECONNECTION, the cause is in `originalCode`.
 */
import {
  ClientCertRejected,
  ConnectRefused,
  ConnectTimeout,
  type DeliveryError,
  type Phase,
  SmtpPermanent,
  SmtpTransient,
  TlsHandshakeFailed,
  TlsProtocolRejected,
} from "./errors"
import type { SmtpReply } from "./evidence"
import { parseReply } from "./wire"

export interface ClassifyContext {
  readonly server: string
  readonly phase: Phase
  readonly minVersion: string
  readonly clientCertificateName: string | undefined
}

const PROTOCOL_CODES = new Set([
  "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION",
  "ERR_SSL_UNSUPPORTED_PROTOCOL",
  "ERR_SSL_NO_PROTOCOLS_AVAILABLE",
  "ERR_SSL_VERSION_TOO_LOW",
  "ERR_SSL_WRONG_SSL_VERSION",
])

/** Alerts a server sends about the client certificate (we never reject the server's in OpenSSL). */
const CLIENT_CERT_ALERTS = new Set([
  "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
  "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
  "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
  "ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED",
  "ERR_SSL_TLSV1_ALERT_ACCESS_DENIED",
])

const CLIENT_CERT_REPLY = /client certificate|certificate (?:required|not trusted|not presented)/i

const common = (ctx: ClassifyContext, detail: string) => ({
  server: ctx.server,
  phase: ctx.phase,
  detail,
  attempts: [],
})

const statusOf = (reply: SmtpReply): string => reply.enhanced ?? (reply.code >= 500 ? "5.0.0" : "4.0.0")

/** A 4xx/5xx reply: as received, except a refusal that names our client certificate. */
export const classifyReply = (reply: SmtpReply, ctx: ClassifyContext): DeliveryError => {
  const detail = `${reply.code} ${reply.text}`
  if ((ctx.phase === "ehlo" || ctx.phase === "greeting") && CLIENT_CERT_REPLY.test(reply.text)) {
    return new ClientCertRejected({
      ...common(ctx, detail),
      form: "reply",
      certificateName: ctx.clientCertificateName,
      reply,
    })
  }
  const fields = { ...common(ctx, detail), reply, status: statusOf(reply) }
  return reply.code >= 500 ? new SmtpPermanent(fields) : new SmtpTransient(fields)
}

/** The connection went away (or went silent) without a reply. */
export const connectionLost = (ctx: ClassifyContext, detail: string, timedOut: boolean): DeliveryError => {
  if (ctx.phase === "connect" || ctx.phase === "greeting" || ctx.phase === "ehlo") {
    return timedOut ? new ConnectTimeout(common(ctx, detail)) : new ConnectRefused(common(ctx, detail))
  }
  if (ctx.phase === "starttls" || ctx.phase === "tls") {
    return new TlsHandshakeFailed({
      ...common(ctx, detail),
      tlsCode: timedOut ? "TIMEOUT" : "CONNECTION_CLOSED",
    })
  }
  return new SmtpTransient({ ...common(ctx, detail), reply: undefined, status: "4.4.2" })
}

/** An error of a socket (plain or TLS) in the given phase. */
export const classifySocketError = (error: NodeJS.ErrnoException, ctx: ClassifyContext): DeliveryError => {
  const code = error.code ?? ""
  const detail = error.message
  if (CLIENT_CERT_ALERTS.has(code)) {
    return new ClientCertRejected({
      ...common(ctx, detail),
      form: "alert",
      certificateName: ctx.clientCertificateName,
      reply: undefined,
    })
  }
  if (PROTOCOL_CODES.has(code)) {
    return new TlsProtocolRejected({ ...common(ctx, detail), tlsCode: code, minVersion: ctx.minVersion })
  }
  if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_")) {
    return new TlsHandshakeFailed({ ...common(ctx, detail), tlsCode: code })
  }
  if (ctx.phase === "connect") {
    if (code === "ETIMEDOUT") return new ConnectTimeout(common(ctx, detail))
    return new ConnectRefused(common(ctx, detail))
  }
  return connectionLost(ctx, `${code} ${detail}`.trim(), code === "ETIMEDOUT")
}

interface NodemailerError extends NodeJS.ErrnoException {
  readonly response?: string
  readonly responseCode?: number
  readonly command?: string
  readonly originalCode?: string
  readonly timeoutType?: string
}

const PHASE_OF_COMMAND: Record<string, Phase> = {
  EHLO: "ehlo",
  HELO: "ehlo",
  "MAIL FROM": "mail",
  "RCPT TO": "rcpt",
  DATA: "data",
  RSET: "rset",
}

/** nodemailer's errors after the hand-over (EHLO inside TLS and the mail transaction). */
export const classifyNodemailerError = (error: NodemailerError, ctx: ClassifyContext): DeliveryError => {
  const phase = (error.command && PHASE_OF_COMMAND[error.command]) || ctx.phase
  const here = { ...ctx, phase }
  if (error.response && /^[45]\d\d/.test(error.response))
    return classifyReply(parseReply(error.response), here)
  const cause = error.originalCode ?? error.code
  if (cause && (cause.startsWith("ERR_SSL_") || cause.startsWith("ERR_TLS_"))) {
    return classifySocketError(Object.assign(new Error(error.message), { code: cause }), here)
  }
  return connectionLost(here, error.message, error.code === "ETIMEDOUT" || cause === "ETIMEDOUT")
}

/**
 * RFC 3464 delivery status notifications: a `multipart/report` with a human part (German and
 * English, naming the cause code and what to do about it), the `message/delivery-status` part,
 * and the original message's headers (`text/rfc822-headers`). Pure: the caller supplies the
 * time and identifiers, so the same input gives the same bytes.
 *
 * The DSN travels with a null reverse path (`MAIL FROM:<>`); a message that itself had a null
 * reverse path gets no DSN (`shouldReport`), so two relays never bounce bounces at each other.
 */
import { createHash } from "node:crypto"
import { FAILURE_CAUSES, type FailureCode } from "@mailconnect/failure-codes"
import { encodeHeaderValue, quotedPrintable, rfc5322Date } from "./mime"

export type DsnLanguage = "de" | "en"

export interface DsnRecipient {
  readonly address: string
  readonly action: "delayed" | "failed"
  /** Enhanced status code, e.g. `4.7.5`, `5.1.1`, `5.4.7`. */
  readonly status: string
  readonly code: FailureCode
  /** The host we last talked to (or tried to). */
  readonly remoteMta?: string
  /** The remote server's reply line, when the cause came from one. */
  readonly smtpReply?: string
  /** Our own diagnosis, e.g. `certificate expired 2026-10-01T00:00:00Z (CN=mx.partner.example)`. */
  readonly detail?: string
  readonly lastAttemptAt?: number
  readonly willRetryUntil?: number
}

export interface DsnInput {
  readonly kind: "delay" | "failure"
  /** Our relay's host name, for Reporting-MTA and the From address. */
  readonly reportingMta: string
  readonly queueId: string
  readonly arrivalAt: number
  readonly createdAt: number
  /** The original envelope sender; the DSN goes to this address. */
  readonly sender: string
  readonly recipients: ReadonlyArray<DsnRecipient>
  /** The original message's header block, as received (without the body). */
  readonly originalHeaders: string
  readonly languages: ReadonlyArray<DsnLanguage>
}

export interface Dsn {
  /** Envelope: null reverse path, one recipient. */
  readonly mailFrom: ""
  readonly rcptTo: string
  readonly messageId: string
  readonly raw: string
}

/** No DSN for a message with a null sender or one from a mailer daemon (RFC 3464 §2, RFC 5321 §4.5.5). */
export const shouldReport = (sender: string): boolean => {
  const address = sender.trim().replace(/^<|>$/g, "")
  return address !== "" && !/^mailer-daemon@/i.test(address)
}

const SUBJECT: Record<DsnInput["kind"], Record<DsnLanguage, string>> = {
  delay: { de: "Zustellung verzögert", en: "Delivery delayed" },
  failure: { de: "Unzustellbar", en: "Undeliverable" },
}

const INTRO: Record<DsnInput["kind"], Record<DsnLanguage, string>> = {
  delay: {
    de: "Ihre Nachricht konnte noch nicht zugestellt werden. Sie wird weiter automatisch zugestellt; Sie müssen nichts tun.",
    en: "Your message could not be delivered yet. Delivery is still being retried automatically; you need not do anything.",
  },
  failure: {
    de: "Ihre Nachricht konnte nicht zugestellt werden und wurde aufgegeben.",
    en: "Your message could not be delivered and has been given up.",
  },
}

const LABELS: Record<DsnLanguage, Record<string, string>> = {
  de: {
    recipient: "Empfänger",
    cause: "Ursache",
    detail: "Einzelheiten",
    reply: "Antwort des Servers",
    server: "Server",
    action: "Was zu tun ist",
    until: "Weitere Versuche bis",
  },
  en: {
    recipient: "Recipient",
    cause: "Cause",
    detail: "Details",
    reply: "Server reply",
    server: "Server",
    action: "What to do",
    until: "Retrying until",
  },
}

const humanPart = (input: DsnInput): string => {
  const sections = input.languages.map((lang) => {
    const l = LABELS[lang]!
    const lines = [INTRO[input.kind][lang], ""]
    for (const r of input.recipients) {
      const c = FAILURE_CAUSES[r.code]
      lines.push(`${l.recipient}: ${r.address}`)
      lines.push(`${l.cause}: ${r.code} (${r.status}) — ${c.meaning[lang]}`)
      if (r.detail) lines.push(`${l.detail}: ${r.detail}`)
      if (r.smtpReply) lines.push(`${l.reply}: ${r.smtpReply}`)
      if (r.remoteMta) lines.push(`${l.server}: ${r.remoteMta}`)
      if (r.willRetryUntil !== undefined) lines.push(`${l.until}: ${rfc5322Date(r.willRetryUntil)}`)
      lines.push(`${l.action}: ${c.action[lang]}`, "")
    }
    return lines.join("\n")
  })
  return sections.join("\n----------------------------------------\n\n")
}

/** Remote-MTA names a host (RFC 3464 §2.3.5); our `host:port` keeps its port in the human part only. */
const mtaName = (server: string): string =>
  server.replace(/^\[(.*)\]:\d+$/, "$1").replace(/^([^:]+):\d+$/, "$1")

/** `smtp;` when the words came from the remote server, our own `x-mailconnect;` type otherwise. */
const diagnosticCode = (r: DsnRecipient): string =>
  r.smtpReply ? `smtp; ${r.smtpReply}` : `X-mailconnect; ${r.code}${r.detail ? ` ${r.detail}` : ""}`

/** Folds a header field so no line exceeds 998 octets (RFC 5322 §2.1.1); DSN fields are ASCII. */
const field = (name: string, value: string): string => {
  const clean = value.replace(/[\r\n]+/g, " ")
  return `${name}: ${clean.length > 900 ? `${clean.slice(0, 900)}…` : clean}`
}

const statusPart = (input: DsnInput): string => {
  const perMessage = [
    field("Reporting-MTA", `dns; ${input.reportingMta}`),
    field("X-Mailconnect-Queue-ID", input.queueId),
    field("Arrival-Date", rfc5322Date(input.arrivalAt)),
  ]
  const perRecipient = input.recipients.map((r) =>
    [
      field("Final-Recipient", `rfc822; ${r.address}`),
      field("Action", r.action),
      field("Status", r.status),
      ...(r.remoteMta ? [field("Remote-MTA", `dns; ${mtaName(r.remoteMta)}`)] : []),
      field("Diagnostic-Code", diagnosticCode(r)),
      ...(r.lastAttemptAt !== undefined ? [field("Last-Attempt-Date", rfc5322Date(r.lastAttemptAt))] : []),
      ...(r.willRetryUntil !== undefined ? [field("Will-Retry-Until", rfc5322Date(r.willRetryUntil))] : []),
    ].join("\r\n"),
  )
  return [perMessage.join("\r\n"), ...perRecipient].join("\r\n\r\n")
}

const normalizeHeaders = (headers: string): string =>
  headers.replace(/\r?\n/g, "\r\n").replace(/(\r\n)+$/, "")

export const buildDsn = (input: DsnInput): Dsn => {
  const seed = createHash("sha256").update(`${input.queueId}/${input.kind}/${input.createdAt}`).digest("hex")
  const boundary = `=_mc_${seed.slice(0, 24)}`
  const messageId = `<dsn.${seed.slice(0, 32)}@${input.reportingMta}>`
  const subject = input.languages.map((lang) => SUBJECT[input.kind][lang]).join(" / ")
  const headers = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${input.sender}>`,
    `Subject: ${encodeHeaderValue(subject)}`,
    `Date: ${rfc5322Date(input.createdAt)}`,
    `Message-ID: ${messageId}`,
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
  ]
  const body = [
    `--${boundary}`,
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    quotedPrintable(humanPart(input)),
    `--${boundary}`,
    "Content-Type: message/delivery-status",
    "",
    statusPart(input),
    "",
    `--${boundary}`,
    "Content-Type: text/rfc822-headers",
    "",
    normalizeHeaders(input.originalHeaders),
    "",
    `--${boundary}--`,
    "",
  ]
  return {
    mailFrom: "",
    rcptTo: input.sender,
    messageId,
    raw: `${headers.join("\r\n")}\r\n\r\n${body.join("\r\n")}`,
  }
}

/**
 * Why a delivery attempt failed: one tagged error per cause of DESIGN §5, each with its stable
 * `code`; the `retry` decision the queue acts on and the status the DSN carries are read from the
 * failure catalog (@mailconnect/failure-codes), the one source of those facts. Variation lives in
 * literal fields (`phase`, `form`, `diagnosis.kind`), never in text.
 */
import { FAILURE_CAUSES, type FailureCode, type PIN_DIAGNOSIS_KINDS } from "@mailconnect/failure-codes"
import { Data } from "effect"
import type { AttemptEvidence, SmtpReply, TlsEvidence } from "./evidence"

/** Where in the session the failure happened. */
export type Phase =
  | "dns"
  | "connect"
  | "greeting"
  | "ehlo"
  | "starttls"
  | "tls"
  | "verify"
  | "mail"
  | "rcpt"
  | "data"
  | "rset"

/** The catalog's retry class of a cause a delivery attempt can end in (never the final `EXPIRED`). */
const retryOf = (code: FailureCode): "defer" | "bounce" => {
  const { retry } = FAILURE_CAUSES[code]
  if (retry === "final") throw new Error(`${code} is not a delivery attempt's failure`)
  return retry
}

/** The catalog's enhanced status of a cause. */
const statusOf = (code: FailureCode): string => FAILURE_CAUSES[code].status

interface Common {
  /** `host:port` (or the recipient domain for DNS failures). */
  readonly server: string
  readonly phase: Phase
  /** The library's or server's own words, for logs. */
  readonly detail: string
  /** Evidence of every attempt of this delivery, the failing one last. */
  readonly attempts: ReadonlyArray<AttemptEvidence>
}

export class ConnectRefused extends Data.TaggedError("ConnectRefused")<Common> {
  readonly code = "CONNECT_REFUSED" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

/** Also: a server that accepts the connection but does not greet or answer in time. */
export class ConnectTimeout extends Data.TaggedError("ConnectTimeout")<Common> {
  readonly code = "CONNECT_TIMEOUT" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

export class DnsNoRoute extends Data.TaggedError("DnsNoRoute")<
  Common & { readonly domain: string; readonly reason: "no-mx-or-address" | "lookup-failed" | "null-mx" }
> {
  readonly code = "DNS_NO_ROUTE" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

export class StartTlsNotOffered extends Data.TaggedError("StartTlsNotOffered")<
  Common & {
    /** `not-advertised`: missing from EHLO; `refused`: advertised, but the STARTTLS reply was not 220. */
    readonly form: "not-advertised" | "refused"
    readonly capabilities: ReadonlyArray<string>
    readonly reply: SmtpReply | undefined
  }
> {
  readonly code = "STARTTLS_NOT_OFFERED" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

/**
 * Under enforce/mtls, a 4xx/5xx greeting or EHLO reply before TLS: nothing before TLS is
 * authenticated (an on-path attacker can send it), so it defers and the next server is tried,
 * like Postfix's `smtp_skip_5xx_greeting`.
 */
export class PreTlsRefused extends Data.TaggedError("PreTlsRefused")<Common & { readonly reply: SmtpReply }> {
  readonly code = "PRE_TLS_REFUSED" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

interface TlsFailure extends Common {
  /** OpenSSL/Node error code, e.g. ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION. */
  readonly tlsCode: string | undefined
}

export class TlsProtocolRejected extends Data.TaggedError("TlsProtocolRejected")<
  TlsFailure & { readonly minVersion: string }
> {
  readonly code = "TLS_PROTOCOL_REJECTED" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

export class TlsHandshakeFailed extends Data.TaggedError("TlsHandshakeFailed")<TlsFailure> {
  readonly code = "TLS_HANDSHAKE_FAILED" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

export class CertUntrusted extends Data.TaggedError("CertUntrusted")<
  Common & { readonly reason: string; readonly anchor: "public-roots" | "partner-ca" }
> {
  readonly code = "CERT_UNTRUSTED" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

export class CertExpired extends Data.TaggedError("CertExpired")<
  Common & {
    readonly form: "expired" | "not-yet-valid"
    readonly notBefore: string
    readonly notAfter: string
  }
> {
  readonly code = "CERT_EXPIRED" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

export class CertNameMismatch extends Data.TaggedError("CertNameMismatch")<
  Common & { readonly expected: ReadonlyArray<string>; readonly presented: ReadonlyArray<string> }
> {
  readonly code = "CERT_NAME_MISMATCH" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

export type PinDiagnosisKind = (typeof PIN_DIAGNOSIS_KINDS)[number]

export interface PinDiagnosis {
  readonly kind: PinDiagnosisKind
  /** What the observed certificate was compared with. */
  readonly comparedWith: "previous-certificate" | "policy"
  /** The pin that would admit the observed certificate, if the change is legitimate. */
  readonly pinToAdd: string
}

export class CertPinMismatch extends Data.TaggedError("CertPinMismatch")<
  Common & {
    readonly observedPin: string
    readonly configuredPins: ReadonlyArray<string>
    readonly diagnosis: PinDiagnosis
  }
> {
  readonly code = "CERT_PIN_MISMATCH" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

export class ClientCertRejected extends Data.TaggedError("ClientCertRejected")<
  Common & {
    /**
     * `alert`: the handshake was refused; `reply`: TLS completed, then a 4xx/5xx naming the client
     * certificate (Postfix); `closed`: the server dropped the TLS session we presented our certificate
     * in before answering anything (what Node-based servers do with an untrusted one);
     * `unavailable`: the named certificate is not in this relay's configuration.
     */
    readonly form: "alert" | "reply" | "closed" | "unavailable"
    readonly certificateName: string | undefined
    readonly reply: SmtpReply | undefined
  }
> {
  readonly code = "CLIENT_CERT_REJECTED" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

/**
 * DANE (RFC 7672): the MX host's DNSSEC-validated TLSA records admit none of what the peer sent.
 * `problem` is the most specific reason (`@mailconnect/x509` `verifyDane`).
 */
export class DaneTlsaMismatch extends Data.TaggedError("DaneTlsaMismatch")<
  Common & {
    readonly problem: "NO_MATCH" | "TA_CHAIN" | "TA_NAME" | "TA_EXPIRED"
    /** The usable records, as `usage selector matchingType hex`. */
    readonly records: ReadonlyArray<string>
  }
> {
  readonly code = "DANE_TLSA_MISMATCH" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

/** The validating resolver answered SERVFAIL for a lookup DANE depends on (RFC 7672 §2.1.1). */
export class DnssecBogus extends Data.TaggedError("DnssecBogus")<
  Common & { readonly name: string; readonly type: "MX" | "A" | "AAAA" | "TLSA" }
> {
  readonly code = "DNSSEC_BOGUS" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

/** MTA-STS `enforce`: no MX host of the domain matches the policy's `mx` patterns (RFC 8461 §4.1). */
export class MtaStsMxMismatch extends Data.TaggedError("MtaStsMxMismatch")<
  Common & {
    readonly policyId: string
    readonly patterns: ReadonlyArray<string>
    readonly hosts: ReadonlyArray<string>
  }
> {
  readonly code = "MTA_STS_MX_MISMATCH" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

/**
 * REQUIRETLS (RFC 8689 §4.2): `no-authenticated-hop` — no next hop is authenticated by a partner
 * policy (enforce/mtls), DANE with usable TLSA records or MTA-STS `enforce`; `not-offered` — an
 * authenticated server did not advertise REQUIRETLS after STARTTLS (refused before MAIL FROM).
 */
export class RequireTlsUnmet extends Data.TaggedError("RequireTlsUnmet")<
  Common & { readonly form: "no-authenticated-hop" | "not-offered" }
> {
  readonly code = "REQUIRETLS_UNMET" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
  readonly status = statusOf(this.code)
}

interface ReplyFailure extends Common {
  /** undefined: the connection was lost without a reply. */
  readonly reply: SmtpReply | undefined
  /** The enhanced status as received, or derived from the reply code. */
  readonly status: string
}

export class SmtpTransient extends Data.TaggedError("SmtpTransient")<ReplyFailure> {
  readonly code = "SMTP_TRANSIENT" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
}

export class SmtpPermanent extends Data.TaggedError("SmtpPermanent")<ReplyFailure> {
  readonly code = "SMTP_PERMANENT" as const satisfies FailureCode
  readonly retry = retryOf(this.code)
}

/**
 * The destination's circuit breaker is open after repeated connect/TLS failures: no connection was
 * attempted. Its code, retry class and status are those of the failure that opened it, so a DSN or
 * a job log names the real cause; the tag says no server was contacted this time.
 */
export class CircuitOpen extends Data.TaggedError("CircuitOpen")<
  Common & {
    readonly openUntil: number
    readonly consecutiveFailures: number
    readonly lastFailure: Exclude<DeliveryError, CircuitOpen>
  }
> {
  readonly code: FailureCode = this.lastFailure.code
  readonly retry = "defer" as const
  readonly status: string = this.lastFailure.status
}

export type DeliveryError =
  | ConnectRefused
  | ConnectTimeout
  | DnsNoRoute
  | StartTlsNotOffered
  | PreTlsRefused
  | TlsProtocolRejected
  | TlsHandshakeFailed
  | CertUntrusted
  | CertExpired
  | CertNameMismatch
  | CertPinMismatch
  | ClientCertRejected
  | DaneTlsaMismatch
  | DnssecBogus
  | MtaStsMxMismatch
  | RequireTlsUnmet
  | SmtpTransient
  | SmtpPermanent
  | CircuitOpen

/** How one attempt at one address failed: the cause, and the TLS evidence gathered before it. */
export interface AttemptFailure {
  readonly error: DeliveryError
  /** Set once a TLS handshake completed (the peer's certificate and the verification verdict). */
  readonly tls: TlsEvidence | undefined
}

/** The same error with the delivery's whole attempt history attached. */
export const withAttempts = <E extends DeliveryError>(
  error: E,
  attempts: ReadonlyArray<AttemptEvidence>,
): E => Object.assign(Object.create(Object.getPrototypeOf(error) as object) as E, error, { attempts })

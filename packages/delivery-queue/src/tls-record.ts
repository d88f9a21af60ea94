/**
 * The TLS evidence a job keeps per attempt, as data (`TlsRecord`): protocol, cipher, the peer's
 * certificate and the verification verdict — a subset of the outbound adapter's evidence. The
 * job log line, the dashboard's last-attempt line and the metrics label render from its fields.
 */
import { Schema } from "effect"
import { FailureCodeSchema } from "./failure-code"

export const TlsPeer = Schema.Struct({
  subject: Schema.String,
  issuer: Schema.String,
  subjectAltNames: Schema.Array(Schema.String),
  notAfter: Schema.String,
  spkiPin: Schema.String,
})

export const TlsVerification = Schema.Struct({
  ok: Schema.Boolean,
  failure: Schema.optional(FailureCodeSchema),
  findings: Schema.Array(FailureCodeSchema),
  matchedName: Schema.optional(Schema.String),
  matchedPin: Schema.optional(Schema.String),
})

export const TlsRecord = Schema.Struct({
  protocol: Schema.NullOr(Schema.String),
  cipher: Schema.String,
  resumed: Schema.optional(Schema.Boolean),
  clientCertificate: Schema.optional(Schema.String),
  peer: Schema.optional(TlsPeer),
  verification: Schema.optional(TlsVerification),
})
export type TlsRecord = typeof TlsRecord.Type

/**
 * An attempt's TLS: the record, `null` for a session without TLS, or — in job data written by
 * workers before the record existed — the one-line summary they kept.
 */
export const AttemptTls = Schema.Union(TlsRecord, Schema.Null, Schema.String)
export type AttemptTls = typeof AttemptTls.Type

const commonName = (subject: string) => /CN=([^,]+)/.exec(subject)?.[1] ?? subject

/** e.g. `TLSv1.3 TLS_AES_256_GCM_SHA384 peer=mx.bank.example notAfter=… verified pin=sha256/…` */
export const renderTls = (tls: AttemptTls): string => {
  if (tls === null) return "plaintext"
  if (typeof tls === "string") return tls
  const verification = tls.verification
  const verdict = !verification
    ? "unverified"
    : verification.ok
      ? "verified"
      : `failed:${verification.failure}`
  return [
    tls.protocol ?? "?",
    tls.cipher,
    ...(tls.peer ? [`peer=${commonName(tls.peer.subject)}`, `notAfter=${tls.peer.notAfter}`] : []),
    verdict,
    ...(tls.peer ? [`pin=${tls.peer.spkiPin}`] : []),
    ...(tls.resumed ? ["resumed"] : []),
    ...(tls.clientCertificate ? [`client=${tls.clientCertificate}`] : []),
  ].join(" ")
}

/** The metrics label: the negotiated protocol, `plaintext` without TLS. */
export const tlsProtocolLabel = (tls: TlsRecord | null): string =>
  tls === null ? "plaintext" : (tls.protocol ?? "?")

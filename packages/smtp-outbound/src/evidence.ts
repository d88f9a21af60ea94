/**
 * TLS evidence: the compliance record that a message travelled encrypted and authenticated
 * (DESIGN §5). Plain data, JSON-ready, one record per attempt.
 */
import type { FailureCode } from "@mailconnect/failure-codes"
import type { TlsMode, TrustModel } from "@mailconnect/policy"
import type { DaneMatch, DaneProblem } from "@mailconnect/x509"

export interface SmtpReply {
  readonly code: number
  /** Enhanced status code (RFC 3463) when the server gave one. */
  readonly enhanced: string | undefined
  /** The full reply text, lines joined with `\n`. */
  readonly text: string
}

export interface CertificateEvidence {
  readonly subject: string
  readonly issuer: string
  readonly subjectAltNames: ReadonlyArray<string>
  readonly serialNumber: string
  readonly notBefore: string
  readonly notAfter: string
  readonly spkiPin: string
  readonly fingerprint256: string
}

export interface VerificationEvidence {
  readonly ok: boolean
  /** The failure reported: the most fundamental of `findings` that the trust model enforces. */
  readonly failure: FailureCode | undefined
  /** Every check that failed, most fundamental first (untrusted, expired, name, pin). */
  readonly findings: ReadonlyArray<FailureCode>
  /** `dane`: the host's TLSA records decided (RFC 7672), not a CA or pins. */
  readonly trust: TrustModel | "dane"
  /** `valid`, OpenSSL's verdict on the chain, `tlsa` (DANE), or `not-consulted` (trust: pins). */
  readonly chain: string
  readonly anchor: "public-roots" | "partner-ca" | "tlsa"
  /** The accepted names; `.domain` stands for any subdomain of `domain`. */
  readonly expectedNames: ReadonlyArray<string>
  readonly matchedName: string | undefined
  readonly configuredPins: ReadonlyArray<string>
  readonly matchedPin: string | undefined
  /** Against the attempt's clock, not OpenSSL's. */
  readonly expired: boolean
  readonly notYetValid: boolean
  readonly daysUntilExpiry: number
  /** DANE only: how many TLSA records were usable, and what matched (or why nothing did). */
  readonly dane?: { readonly usable: number; readonly match?: DaneMatch; readonly problem?: DaneProblem }
}

export interface TlsEvidence {
  readonly protocol: string | null
  readonly cipher: string
  readonly resumed: boolean
  readonly clientCertificate: string | undefined
  readonly peer: CertificateEvidence | undefined
  /** Certificates the peer sent above its own, in order. */
  readonly chain: ReadonlyArray<CertificateEvidence>
  readonly verification: VerificationEvidence | undefined
}

export interface TranscriptLine {
  readonly direction: "C" | "S"
  readonly line: string
}

export interface AttemptEvidence {
  /** `host:port` as routed (MX host or route server). */
  readonly server: string
  readonly host: string
  readonly port: number
  /** The IP address actually connected to. */
  readonly address: string | undefined
  readonly mode: TlsMode
  /** Who authenticated this hop: the partner policy, DANE, MTA-STS, or none (opportunistic). */
  readonly source: "partner" | "dane" | "mta-sts" | "none"
  /** MTA-STS hops: the policy's mode, id and MX patterns. */
  readonly mtaSts?: {
    readonly mode: "enforce" | "testing"
    readonly id: string
    readonly patterns: ReadonlyArray<string>
  }
  /** The domain announced MTA-STS but no policy could be had (see `HopAuthority`). */
  readonly mtaStsProblem?: {
    readonly reason: "fetch-failed" | "fetch-backoff" | "invalid-record" | "multiple-records"
    readonly cause?: { readonly _tag: string; readonly form?: string; readonly rule?: string }
  }
  /** DANE hops: the TLSA records in force, in presentation form (`3 1 1 <hex>`). */
  readonly tlsa?: ReadonlyArray<string>
  readonly startedAt: string
  readonly bundleSerial: number | undefined
  readonly tls: TlsEvidence | undefined
  /** Commands and replies, never message content. */
  readonly transcript: ReadonlyArray<TranscriptLine>
  readonly outcome: "ok" | FailureCode
}

/**
 * The resolved policy model: what a compiled bundle carries and what relays act on.
 * Defaults are already folded in — a relay never re-derives policy from the source files.
 * Durations are integer milliseconds; dates are ISO-8601 strings (`YYYY-MM-DD` or full instants).
 */
import { Schema } from "effect"

export const TlsMode = Schema.Literal("opportunistic", "enforce", "mtls")
export type TlsMode = typeof TlsMode.Type

/** Node's names for protocol versions, as `tls.connect({ minVersion })` takes them. */
export const TlsVersion = Schema.Literal("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
export type TlsVersion = typeof TlsVersion.Type

export const TLS_VERSION_ORDER: ReadonlyArray<TlsVersion> = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
export const tlsVersionRank = (version: TlsVersion): number => TLS_VERSION_ORDER.indexOf(version)

export const TrustModel = Schema.Literal("pkix", "pins")
export type TrustModel = typeof TrustModel.Type

export const ServerAddress = Schema.Struct({
  host: Schema.String,
  port: Schema.Int,
})
export type ServerAddress = typeof ServerAddress.Type

export const RetryPolicy = Schema.Struct({
  /** Gaps between the first attempts (the first is at queueing time), e.g. [5m, 10m, 20m, 40m]. */
  schedule: Schema.Array(Schema.Int),
  /** Gap between attempts once the schedule is exhausted. */
  every: Schema.Int,
  warnAfter: Schema.Int,
  expireAfter: Schema.Int,
})
export type RetryPolicy = typeof RetryPolicy.Type

export const Contact = Schema.Struct({
  name: Schema.String,
  email: Schema.String,
  phone: Schema.optional(Schema.String),
})
export type Contact = typeof Contact.Type

export const Agreement = Schema.Struct({
  reference: Schema.String,
  signedOn: Schema.String,
  confirmedBy: Schema.optional(Schema.String),
  /** When the customer confirmed it (with `confirmedBy` and `reference`: the customer's indemnity). */
  confirmedOn: Schema.optional(Schema.String),
  technicalContacts: Schema.Array(Contact),
  /** Present only when the partner may use TLS below 1.2; records why. */
  legacyTls: Schema.optional(
    Schema.Struct({ reason: Schema.String, acknowledgedBy: Schema.optional(Schema.String) }),
  ),
})
export type Agreement = typeof Agreement.Type

/** A CA certificate (or bundle) embedded in the policy: relays do not read the policy directory. */
export const EmbeddedCertificate = Schema.Struct({
  file: Schema.String,
  pem: Schema.String,
  sha256: Schema.String,
  notAfter: Schema.String,
})
export type EmbeddedCertificate = typeof EmbeddedCertificate.Type

export const TlsVerify = Schema.Struct({
  trust: TrustModel,
  /**
   * Accepted certificate names. Empty means "the host name of the server we connect to"
   * (the route server or the MX host) — the check that a DNS-based route implies.
   */
  names: Schema.Array(Schema.String),
  ca: Schema.optional(EmbeddedCertificate),
  /**
   * The partner's server certificate as on file (public). Lets a relay explain a pin mismatch
   * by comparing the observed certificate with this one (same key renewed, rotated, different
   * issuer); pins, not this copy, decide trust.
   */
  certificate: Schema.optional(EmbeddedCertificate),
  /** `sha256/<base64 SPKI digest>`; any one matches. */
  pins: Schema.Array(Schema.String),
})
export type TlsVerify = typeof TlsVerify.Type

export const CertificateReview = Schema.Struct({
  attestedOn: Schema.String,
  every: Schema.Int,
  /** attestedOn + every, as a date: when the next attestation is due. */
  dueOn: Schema.String,
})
export type CertificateReview = typeof CertificateReview.Type

/**
 * Whether DANE (RFC 7672) and MTA-STS (RFC 8461) may authenticate a domain that has no enforced
 * agreement: `on` unless the policy says `off`. An enforce/mtls partner's own verification always
 * wins; these matter for opportunistic partners and the defaults.
 */
export const StandardSwitch = Schema.Literal("on", "off")
export type StandardSwitch = typeof StandardSwitch.Type

export const PartnerTls = Schema.Struct({
  mode: TlsMode,
  minVersion: TlsVersion,
  /** OpenSSL cipher list; absent means Node's defaults for the negotiated version. */
  ciphers: Schema.optional(Schema.String),
  verify: TlsVerify,
  /** mtls: name of the relay client certificate (key material lives in relay configuration). */
  clientCertificate: Schema.optional(Schema.String),
  review: Schema.optional(CertificateReview),
  /** Absent: on. Bundles compiled before the field existed have neither. */
  dane: Schema.optional(StandardSwitch),
  mtaSts: Schema.optional(StandardSwitch),
})
export type PartnerTls = typeof PartnerTls.Type

export const InboundPolicy = Schema.Struct({
  requireTls: Schema.Boolean,
  requireClientCertificate: Schema.Boolean,
  /**
   * How the partner's *sending* servers' client certificates are authenticated (names, CA, pins).
   * The compiler always fills it in (defaulting to `tls.verify`); absent only in bundles compiled
   * before it existed, where `tls.verify` applies.
   */
  verify: Schema.optional(TlsVerify),
})
export type InboundPolicy = typeof InboundPolicy.Type

/**
 * What a partner's agreement lets us send it, counted fleet-wide (all relays together): messages
 * (SMTP transactions) per minute and simultaneous SMTP sessions. A field that is absent is no limit.
 */
export const DeliveryLimits = Schema.Struct({
  messagesPerMinute: Schema.optional(Schema.Int),
  connections: Schema.optional(Schema.Int),
})
export type DeliveryLimits = typeof DeliveryLimits.Type

export const Partner = Schema.Struct({
  name: Schema.String,
  agreement: Schema.optional(Agreement),
  domains: Schema.Array(Schema.String),
  /** Explicit recipient servers; absent means DNS MX of the recipient domain. */
  servers: Schema.optional(Schema.Array(ServerAddress)),
  tls: PartnerTls,
  inbound: InboundPolicy,
  retry: RetryPolicy,
  /** Closed groups this partner belongs to (sorted). */
  groups: Schema.Array(Schema.String),
  /**
   * The agreement's limits, the Defaults' folded in; absent when neither sets one (and in bundles
   * compiled before the field existed): unlimited.
   */
  limits: Schema.optional(DeliveryLimits),
})
export type Partner = typeof Partner.Type

export const MtaStsMode = Schema.Literal("enforce", "testing", "none")
export type MtaStsMode = typeof MtaStsMode.Type

/**
 * The MTA-STS policy (RFC 8461 §3.2) we publish for one of our own domains at
 * `https://mta-sts.<domain>/.well-known/mta-sts.txt`. Unlike the other durations in this model,
 * `maxAge` is in seconds: it is the policy's `max_age` as published.
 */
export const PublishedMtaSts = Schema.Struct({
  mode: MtaStsMode,
  maxAge: Schema.Int,
  /** MX host patterns, A-labels, in the order written; `*.` only as the whole leftmost label. */
  mx: Schema.Array(Schema.String),
})
export type PublishedMtaSts = typeof PublishedMtaSts.Type

/**
 * Where senders should send RFC 8460 TLS reports about mail to one of our domains: the `rua` of
 * the `_smtp._tls.<domain>` record the operator publishes (`mailto:` or `https:` URIs, in order).
 */
export const PublishedTlsRpt = Schema.Struct({
  rua: Schema.Array(Schema.String),
})
export type PublishedTlsRpt = typeof PublishedTlsRpt.Type

export const LocalDomain = Schema.Struct({
  domain: Schema.String,
  deliverTo: ServerAddress,
  /** Closed groups this local domain belongs to (sorted). */
  groups: Schema.Array(Schema.String),
  /** Present only when the policy publishes MTA-STS for the domain (and absent in older bundles). */
  mtaSts: Schema.optional(PublishedMtaSts),
  /** Present only when the policy names a TLS-RPT address for the domain. */
  tlsRpt: Schema.optional(PublishedTlsRpt),
})
export type LocalDomain = typeof LocalDomain.Type

export const ClosedGroup = Schema.Struct({
  name: Schema.String,
  members: Schema.Array(Schema.String),
  localDomains: Schema.Array(Schema.String),
})
export type ClosedGroup = typeof ClosedGroup.Type

/**
 * A customer's own mail servers that may relay outbound mail through us without AUTH (Postfix's
 * `mynetworks` / `permit_tls_clientcerts`, Exchange Online's inbound connectors). A connection
 * matches when its address is in one of `networks` (if any are listed) and its client
 * certificate passes `clientCertificate` (if given) — never on neither: the compiler refuses that.
 */
export const Connector = Schema.Struct({
  name: Schema.String,
  /** Canonical CIDR networks (`network.ts`), sorted; empty: any address, the certificate decides. */
  networks: Schema.Array(Schema.String),
  /** The certificate the servers must present: CA, names and/or pins, as partners' `verify`. */
  clientCertificate: Schema.optional(TlsVerify),
  /** MAIL FROM domains it may relay for (A-labels, exact or `*.suffix`), sorted. */
  senderDomains: Schema.Array(Schema.String),
  /** Plaintext sessions from its networks are refused (530) before MAIL FROM goes anywhere. */
  requireTls: Schema.Boolean,
})
export type Connector = typeof Connector.Type

export const DefaultPolicy = Schema.Struct({
  tls: Schema.Struct({
    mode: TlsMode,
    minVersion: TlsVersion,
    ciphers: Schema.optional(Schema.String),
    dane: Schema.optional(StandardSwitch),
    mtaSts: Schema.optional(StandardSwitch),
  }),
  retry: RetryPolicy,
  dsn: Schema.Struct({ languages: Schema.Array(Schema.String) }),
})
export type DefaultPolicy = typeof DefaultPolicy.Type

/** Domain → partner name. Wildcard keys are the suffix without `*.` (`*.example.org` → `example.org`). */
export const LookupIndex = Schema.Struct({
  exact: Schema.Record({ key: Schema.String, value: Schema.String }),
  wildcard: Schema.Record({ key: Schema.String, value: Schema.String }),
})
export type LookupIndex = typeof LookupIndex.Type

export const PolicySet = Schema.Struct({
  defaults: DefaultPolicy,
  partners: Schema.Record({ key: Schema.String, value: Partner }),
  localDomains: Schema.Record({ key: Schema.String, value: LocalDomain }),
  groups: Schema.Record({ key: Schema.String, value: ClosedGroup }),
  /**
   * Absent when the policy defines none (older bundles, and every bundle without connectors, stay
   * byte-identical); a relay that does not know the field ignores it and relays for nobody.
   */
  connectors: Schema.optional(Schema.Record({ key: Schema.String, value: Connector })),
})
export type PolicySet = typeof PolicySet.Type

export const BundleSource = Schema.Struct({
  commit: Schema.String,
  publishedBy: Schema.optional(Schema.String),
})

/** The signed payload. `schema` is the format version; relays refuse versions they do not know. */
export const BundlePayload = Schema.Struct({
  schema: Schema.Int,
  serial: Schema.Int,
  createdAt: Schema.String,
  source: BundleSource,
  policy: PolicySet,
  index: LookupIndex,
})
export type BundlePayload = typeof BundlePayload.Type

/** Payload format versions this code can read and write. */
export const CURRENT_SCHEMA = 1
export const SUPPORTED_SCHEMAS: ReadonlyArray<number> = [1]

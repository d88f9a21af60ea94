/**
 * The policy *source* language (DESIGN §3) as Effect Schemas: what operators write in YAML.
 * Deliberately loose where a dedicated rule gives a better message than a schema could
 * (domains, pins, route servers, agreement contacts, legacy TLS): those are checked in `check/`, with
 * their own rule codes. Durations and dates stay text here and are converted in `resolve`.
 */
import { parseDuration } from "@mailconnect/policy"
import { Schema } from "effect"

export const API_VERSION = "mailconnect/v1"
export const KINDS = ["Defaults", "Partner", "LocalDomains", "ClosedGroup", "Connector"] as const
export type Kind = (typeof KINDS)[number]

/**
 * A closed set of words. A refinement rather than `Schema.Literal`, so a wrong value yields one
 * issue listing the choices instead of one "Expected …" per member.
 */
const oneOf = <const L extends ReadonlyArray<string>>(...values: L) =>
  Schema.String.pipe(
    Schema.filter((s): s is L[number] => values.includes(s), {
      message: (issue) => `expected one of ${values.join(", ")}, got ${JSON.stringify(issue.actual)}`,
    }),
  )

const Text = Schema.String.pipe(
  Schema.minLength(1, { message: () => "expected non-empty text" }),
).annotations({ message: () => "expected text" })

const DurationText = Schema.String.pipe(
  Schema.filter((s) => parseDuration(s) !== undefined, {
    message: (issue) =>
      `expected a duration such as 30s, 5m, 4h, 10d or 1y, got ${JSON.stringify(issue.actual)}`,
  }),
)

const isCalendarDate = (s: string): boolean => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false
  const date = new Date(`${s}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(s)
}

const DateText = Schema.String.pipe(
  Schema.filter(isCalendarDate, {
    message: (issue) => `expected a date as YYYY-MM-DD, got ${JSON.stringify(issue.actual)}`,
  }),
)

/**
 * A domain as written: Unicode or A-labels, exact or (in partner domains) `*.suffix`. Checked and
 * converted to A-labels by `domain-names.ts`, which reports DOMAIN-INVALID with the reason.
 */
const DomainText = Text

export const TlsModeSource = oneOf("opportunistic", "enforce", "mtls")
export const TlsVersionSource = oneOf("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
/**
 * `tls.dane` / `tls.mtaSts`: whether DANE (RFC 7672) / MTA-STS (RFC 8461) may authenticate a
 * domain without an enforced agreement. A wrong value is TLS-STANDARD-INVALID, reported (and a
 * YAML 1.1 boolean `on`/`off` taken back as the word) before this schema runs, by
 * `standard-switches.ts`.
 */
export const StandardSwitchSource = oneOf("on", "off")

const RetrySource = Schema.Struct({
  schedule: Schema.optional(Schema.Array(DurationText)),
  every: Schema.optional(DurationText),
  warnAfter: Schema.optional(DurationText),
  expireAfter: Schema.optional(DurationText),
})
export type RetrySource = typeof RetrySource.Type

/**
 * `limits` of a partner's agreement (or the Defaults for every partner). Numbers here; a zero, a
 * fraction or an absurd value is LIMIT-INVALID with the reason (check/limits.ts).
 */
const LimitsSource = Schema.Struct({
  messagesPerMinute: Schema.optional(Schema.Number),
  connections: Schema.optional(Schema.Number),
})
export type LimitsSource = typeof LimitsSource.Type

const header = <K extends Kind>(kind: K) => ({
  apiVersion: Schema.Literal(API_VERSION),
  kind: Schema.Literal(kind),
})

export const DefaultsDoc = Schema.Struct({
  ...header("Defaults"),
  tls: Schema.Struct({
    mode: TlsModeSource,
    minVersion: TlsVersionSource,
    ciphers: Schema.optional(Text),
    dane: Schema.optional(StandardSwitchSource),
    mtaSts: Schema.optional(StandardSwitchSource),
  }),
  retry: Schema.Struct({
    schedule: Schema.Array(DurationText),
    every: DurationText,
    warnAfter: DurationText,
    expireAfter: DurationText,
  }),
  dsn: Schema.Struct({ languages: Schema.NonEmptyArray(Text) }),
  /** Each partner's limits where its own file sets none (per field); mail without an agreement is not limited. */
  limits: Schema.optional(LimitsSource),
})
export type DefaultsDoc = typeof DefaultsDoc.Type

const ContactSource = Schema.Struct({
  name: Text,
  email: Schema.String.pipe(
    Schema.filter((s) => /^[^\s@]+@[^\s@]+$/.test(s), { message: () => "expected an e-mail address" }),
  ),
  phone: Schema.optional(Text),
})

const AgreementSource = Schema.Struct({
  reference: Text,
  signedOn: DateText,
  /** Who at the customer confirmed the agreement (name or ticket). */
  confirmedBy: Schema.optional(Text),
  /** When they confirmed it (required with confirmedBy for enforce/mtls: AGREEMENT-CONFIRMATION-MISSING). */
  confirmedOn: Schema.optional(DateText),
  technicalContacts: Schema.optional(Schema.Array(ContactSource)),
  legacyTls: Schema.optional(Schema.Struct({ reason: Text, acknowledgedBy: Schema.optional(Text) })),
})

export const VerifySource = Schema.Struct({
  trust: Schema.optional(oneOf("pkix", "pins")),
  names: Schema.optional(Schema.Array(Text)),
  /** Path relative to the policy directory, e.g. certs/bank-ca.pem. */
  ca: Schema.optional(Text),
  /** The partner's server certificate on file (public), for pins-only trust and expiry watch. */
  certificate: Schema.optional(Text),
  pins: Schema.optional(Schema.Array(Schema.String)),
})
export type VerifySource = typeof VerifySource.Type

export const PartnerDoc = Schema.Struct({
  ...header("Partner"),
  name: Text,
  agreement: Schema.optional(AgreementSource),
  domains: Schema.NonEmptyArray(DomainText),
  /**
   * Explicit precedence: partners whose wildcard may cover this partner's more specific
   * domains. Without it such an overlap is an error, since it usually is a mistake.
   */
  overrides: Schema.optional(Schema.Array(Text)),
  route: Schema.optional(Schema.Struct({ servers: Schema.Array(Schema.String) })),
  tls: Schema.optional(
    Schema.Struct({
      mode: Schema.optional(TlsModeSource),
      minVersion: Schema.optional(TlsVersionSource),
      ciphers: Schema.optional(Text),
      verify: Schema.optional(VerifySource),
      clientCertificate: Schema.optional(Text),
      review: Schema.optional(Schema.Struct({ attestedOn: DateText, every: DurationText })),
      dane: Schema.optional(StandardSwitchSource),
      mtaSts: Schema.optional(StandardSwitchSource),
    }),
  ),
  inbound: Schema.optional(
    Schema.Struct({
      requireTls: Schema.optional(Schema.Boolean),
      requireClientCertificate: Schema.optional(Schema.Boolean),
      /** The partner's sending servers' client certificates; absent: the same checks as tls.verify. */
      verify: Schema.optional(VerifySource),
    }),
  ),
  retry: Schema.optional(RetrySource),
  limits: Schema.optional(LimitsSource),
})
export type PartnerDoc = typeof PartnerDoc.Type

/**
 * The MTA-STS policy (RFC 8461) we publish for a local domain. Loose on purpose: a wrong mode, a
 * max_age out of range or a malformed mx pattern is MTA-STS-INVALID, reported by `check/local.ts`.
 */
const PublishedMtaStsSource = Schema.Struct({
  mode: Schema.String,
  /** A duration (`7d`, `1y`), published as whole seconds. */
  maxAge: Schema.String,
  /** Required unless mode is none. */
  mx: Schema.optional(Schema.Array(Schema.String)),
})
export type PublishedMtaStsSource = typeof PublishedMtaStsSource.Type

export const LocalDomainsDoc = Schema.Struct({
  ...header("LocalDomains"),
  domains: Schema.Array(
    Schema.Struct({
      domain: DomainText,
      deliverTo: Schema.String,
      mtaSts: Schema.optional(PublishedMtaStsSource),
      /** `rua` of the `_smtp._tls` record to publish: mailto:/https: URIs (TLS-RPT-INVALID otherwise). */
      tlsRpt: Schema.optional(Schema.Struct({ rua: Schema.Array(Schema.String) })),
    }),
  ),
})
export type LocalDomainsDoc = typeof LocalDomainsDoc.Type

export const ClosedGroupDoc = Schema.Struct({
  ...header("ClosedGroup"),
  name: Text,
  description: Schema.optional(Text),
  members: Schema.NonEmptyArray(Text),
  localDomains: Schema.Array(DomainText),
})
export type ClosedGroupDoc = typeof ClosedGroupDoc.Type

/**
 * A customer's own mail servers relaying through us without AUTH. Networks stay text here: a bad
 * one is CONNECTOR-NETWORK-INVALID with the reason (check/connector.ts). `requireTls` defaults to
 * true; plaintext relaying has to be written down.
 */
export const ConnectorDoc = Schema.Struct({
  ...header("Connector"),
  name: Text,
  description: Schema.optional(Text),
  networks: Schema.optional(Schema.Array(Text)),
  clientCertificate: Schema.optional(
    Schema.Struct({
      trust: Schema.optional(oneOf("pkix", "pins")),
      names: Schema.optional(Schema.Array(Text)),
      /** Path relative to the policy directory: the CA that issues the customer's client certificates. */
      ca: Schema.optional(Text),
      pins: Schema.optional(Schema.Array(Schema.String)),
    }),
  ),
  senderDomains: Schema.NonEmptyArray(DomainText),
  requireTls: Schema.optional(Schema.Boolean),
})
export type ConnectorDoc = typeof ConnectorDoc.Type

export const SCHEMA_BY_KIND = {
  Defaults: DefaultsDoc,
  Partner: PartnerDoc,
  LocalDomains: LocalDomainsDoc,
  ClosedGroup: ClosedGroupDoc,
  Connector: ConnectorDoc,
} as const

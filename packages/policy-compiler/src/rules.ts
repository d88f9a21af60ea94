/**
 * The closed catalogue of rule codes. Codes are part of the CLI contract (scripts and reviewers
 * grep for them), so a rule is never renamed; a retired rule keeps its code reserved.
 */
import type { Severity } from "./diagnostic"

interface Rule {
  readonly severity: Severity
  readonly summary: string
}

const rule = (severity: Severity, summary: string): Rule => ({ severity, summary })

export const RULES = {
  "YAML-SYNTAX": rule("error", "the file is not one well-formed YAML document"),
  "API-VERSION": rule("error", "apiVersion is missing or not mailconnect/v1"),
  "KIND-UNKNOWN": rule(
    "error",
    "kind is missing or not Defaults, Partner, LocalDomains, ClosedGroup or Connector",
  ),
  "UNKNOWN-KEY": rule("error", "a key the policy language does not define"),
  "MISSING-FIELD": rule("error", "a required field is absent"),
  "INVALID-VALUE": rule("error", "a value of the wrong type or outside its allowed set"),
  "DEFAULTS-COUNT": rule("error", "there must be exactly one Defaults document"),
  "NAME-MISMATCH": rule("error", "a partner's, group's or connector's name differs from its file name"),
  "PARTNER-DUPLICATE": rule("error", "two partner files declare the same name"),
  "GROUP-DUPLICATE": rule("error", "two closed-group files declare the same name"),
  "CONNECTOR-DUPLICATE": rule("error", "two connector files declare the same name"),
  "DOMAIN-INVALID": rule(
    "error",
    "a domain is not a valid host name after UTS-46 processing (or a misplaced wildcard)",
  ),
  "DOMAIN-CONFLICT": rule(
    "error",
    "the same domain (after conversion to A-labels) is claimed by two partners",
  ),
  "DOMAIN-OVERLAP": rule("error", "a wildcard covers another partner's domain without explicit precedence"),
  "LOCAL-DOMAIN-CLAIMED": rule("error", "a partner claims one of our own local domains"),
  "LOCAL-DOMAIN-DUPLICATE": rule("error", "a local domain is listed twice"),
  "MTA-STS-INVALID": rule(
    "error",
    "a local domain's mtaSts has a bad mode, a max_age outside 0..31557600 s or a bad mx pattern",
  ),
  "TLS-RPT-INVALID": rule(
    "error",
    "a local domain's tlsRpt names no rua, or one that is not a mailto: address or an https: URL",
  ),
  "MTA-STS-MAX-AGE-SHORT": rule(
    "warning",
    "a local domain publishes MTA-STS enforce with a max_age under one day (RFC 8461 advises weeks)",
  ),
  "OVERRIDES-UNKNOWN": rule("error", "overrides names a partner that does not exist"),
  "AGREEMENT-CONTACT-MISSING": rule("error", "enforce/mtls without an agreement naming a technical contact"),
  "AGREEMENT-CONFIRMATION-MISSING": rule(
    "error",
    "enforce/mtls without the customer's confirmation of the agreement (agreement.confirmedBy and confirmedOn)",
  ),
  "MTLS-CLIENT-CERT-MISSING": rule("error", "mtls without tls.clientCertificate"),
  "CERT-FILE-MISSING": rule("error", "a CA or certificate file does not exist in the policy directory"),
  "CERT-UNPARSABLE": rule("error", "a CA or certificate file holds no parsable PEM certificate"),
  "CA-NOT-CA": rule(
    "error",
    "tls.verify.ca, inbound.verify.ca or a connector's clientCertificate.ca is not a CA certificate",
  ),
  "CERT-EXPIRED": rule("error", "a partner or connector CA or certificate has expired"),
  "CERT-EXPIRING": rule("warning", "a partner or connector CA or certificate expires within 30 days"),
  "PIN-MALFORMED": rule("error", "a pin is not sha256/<base64 of 32 bytes>"),
  "PINS-REQUIRED": rule("error", "verify.trust: pins without any pin"),
  "PIN-CERTIFICATE-MISMATCH": rule("warning", "no pin matches the partner certificate on file"),
  "ENFORCE-MX-NAMES-DEFAULT": rule(
    "warning",
    "enforce/mtls via DNS MX without tls.verify.names: certificates must name the recipient domain",
  ),
  "VERIFY-IGNORED-OPPORTUNISTIC": rule(
    "warning",
    "an opportunistic partner sets pins, a CA or names that are not enforced",
  ),
  "CIPHERS-SECLEVEL": rule("warning", "a cipher string sets @SECLEVEL, which the relay manages itself"),
  "TLS-STANDARD-INVALID": rule("error", "tls.dane or tls.mtaSts is not on or off"),
  "STANDARDS-IGNORED-ENFORCED": rule(
    "warning",
    "an enforce/mtls partner sets tls.dane or tls.mtaSts, which its own verification overrides",
  ),
  "TLS-LEGACY-UNACKNOWLEDGED": rule("error", "minVersion below TLSv1.2 without a legacyTls acknowledgement"),
  "GROUP-MEMBER-NOT-MTLS": rule("error", "a closed-group member does not use mtls both ways"),
  "GROUP-MEMBER-UNKNOWN": rule("error", "a closed group names an unknown partner or local domain"),
  "ROUTE-SERVER-INVALID": rule("error", "a server is not host[:port] with a valid host and port"),
  "REVIEW-OVERDUE": rule("warning", "the certificate attestation is overdue"),
  "RETRY-TIMELINE-INVALID": rule("error", "the retry timeline is not increasing or warns after expiry"),
  "LIMIT-INVALID": rule(
    "error",
    "limits.messagesPerMinute or limits.connections is not a whole number from 1 to its maximum",
  ),
  "CONNECTOR-UNAUTHENTICATED": rule(
    "error",
    "a connector names neither client networks nor a client certificate (it would relay for anyone)",
  ),
  "CONNECTOR-NETWORK-INVALID": rule(
    "error",
    "a connector network is not an IPv4 or IPv6 address or address/prefix without host bits",
  ),
  "CONNECTOR-OPEN-RELAY": rule(
    "error",
    "a connector network covers every address (/0) and no client certificate is required",
  ),
  "CONNECTOR-NETWORK-BROAD": rule(
    "warning",
    "a connector network wider than /16 (IPv4) or /32 (IPv6) and no client certificate is required",
  ),
  "CONNECTOR-CERTIFICATE-INCOMPLETE": rule(
    "error",
    "a connector's clientCertificate under trust pkix lacks its CA or its names (public roots vouch for anyone)",
  ),
  "CONNECTOR-SENDER-PARTNER": rule("error", "a connector may send as a domain that belongs to a partner"),
  "CONNECTOR-REQUIRE-TLS-IGNORED": rule(
    "warning",
    "a connector with a client certificate says requireTls: false (a certificate needs TLS)",
  ),
} as const satisfies Record<string, Rule>

export type RuleCode = keyof typeof RULES

export const RULE_CODES = Object.keys(RULES).sort() as ReadonlyArray<RuleCode>

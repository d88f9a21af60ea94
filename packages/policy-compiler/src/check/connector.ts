/**
 * Rules about connectors — a customer's own servers relaying through us without AUTH. Each rule
 * keeps a connector from becoming an open relay or a way to send as someone else: it must name
 * networks or a certificate, its networks must be real networks and not the whole Internet, a
 * certificate must be checked against the customer's own CA and names (public roots vouch for
 * anyone), and its sender domains must not be a partner's (mail as a partner's domain would
 * come from the customer, not the partner). The CA file is checked like a partner's and returned
 * for embedding.
 */
import type { EmbeddedCertificate } from "@mailconnect/policy"
import { parseNetwork } from "@mailconnect/policy"
import { isWellFormedPin } from "../certificates"
import type { Diagnostic } from "../diagnostic"
import { diagnosticAt } from "../source/validate"
import { checkCertificateFile } from "./certificates"
import type { ConnectorSource, PartnerSource } from "./sources"

/** Without a client certificate, networks wider than these are most likely a mistake. */
const BROAD_PREFIX = { ipv4: 16, ipv6: 32 } as const

const NETWORK_HINTS = {
  syntax: "write an IPv4 or IPv6 address with an optional prefix, e.g. 192.0.2.0/24 or 2001:db8:25::/48",
  prefix: "the prefix is 0-32 for IPv4 and 0-128 for IPv6",
  mapped: "write the IPv4 network itself (an IPv4-mapped client address is matched as IPv4)",
} as const

/** `*.suffix` covers the names below suffix; an exact domain only itself. */
const covers = (pattern: string, domain: string): boolean =>
  pattern.startsWith("*.") ? domain.endsWith(pattern.slice(1)) : pattern === domain

/** Two domain patterns share at least one domain (a wildcard is tested as itself: `*` is in no name). */
const overlaps = (a: string, b: string): boolean => covers(a, b) || covers(b, a)

export interface ConnectorCertificates {
  readonly ca?: EmbeddedCertificate
}

export const checkConnectors = (
  connectors: ReadonlyArray<ConnectorSource>,
  partners: ReadonlyArray<PartnerSource>,
  attachments: ReadonlyMap<string, string>,
  now: Date,
): { readonly diagnostics: Array<Diagnostic>; readonly embedded: Map<string, ConnectorCertificates> } => {
  const diagnostics: Array<Diagnostic> = []
  const embedded = new Map<string, ConnectorCertificates>()
  for (const connector of connectors) {
    diagnostics.push(...checkNetworks(connector), ...checkSenders(connector, partners))
    const certificate = checkCertificate(connector, attachments, now)
    diagnostics.push(...certificate.diagnostics)
    embedded.set(connector.doc.name, certificate.embedded)
  }
  return { diagnostics, embedded }
}

const checkNetworks = (connector: ConnectorSource): Array<Diagnostic> => {
  const { doc, file } = connector
  const out: Array<Diagnostic> = []
  const networks = doc.networks ?? []
  const certified = doc.clientCertificate !== undefined
  if (networks.length === 0 && !certified)
    out.push(
      diagnosticAt(
        file,
        doc.networks ? ["networks"] : ["name"],
        "CONNECTOR-UNAUTHENTICATED",
        `connector "${doc.name}" names neither networks nor a client certificate: it would relay for anyone`,
        "list the customer's server networks under networks, or require clientCertificate (or both)",
      ),
    )
  networks.forEach((written, i) => {
    const at = diagnosticAt.bind(null, file, ["networks", i])
    const parsed = parseNetwork(written)
    if (!parsed.ok) {
      out.push(
        at(
          "CONNECTOR-NETWORK-INVALID",
          parsed.problem === "host-bits"
            ? `network "${written}" has host bits set below its prefix`
            : `network "${written}" is not an IP network`,
          parsed.problem === "host-bits"
            ? `write ${parsed.suggestion}, or a longer prefix for fewer hosts`
            : NETWORK_HINTS[parsed.problem],
        ),
      )
      return
    }
    if (certified) return
    const { family, prefix, network } = parsed.parsed
    if (prefix === 0)
      out.push(
        at(
          "CONNECTOR-OPEN-RELAY",
          `network ${network} is every ${family === "ipv4" ? "IPv4" : "IPv6"} address: without a client certificate, anyone could relay`,
          "list the customer's own server networks, or require clientCertificate",
        ),
      )
    else if (prefix < BROAD_PREFIX[family])
      out.push(
        at(
          "CONNECTOR-NETWORK-BROAD",
          `network ${network} holds more than a customer's mail servers usually need (wider than /${BROAD_PREFIX[family]})`,
          "narrow it to the customer's server addresses, or also require clientCertificate",
          { severity: "warning" },
        ),
      )
  })
  return out
}

const checkSenders = (
  connector: ConnectorSource,
  partners: ReadonlyArray<PartnerSource>,
): Array<Diagnostic> =>
  connector.doc.senderDomains.flatMap((domain, i) => {
    const owner = partners.find((p) => p.doc.domains.some((d) => overlaps(domain, d)))
    if (!owner) return []
    const claimed = owner.doc.domains.find((d) => overlaps(domain, d))!
    return [
      diagnosticAt(
        connector.file,
        ["senderDomains", i],
        "CONNECTOR-SENDER-PARTNER",
        `connector "${connector.doc.name}" may send as ${domain}, which partner "${owner.doc.name}" claims (${claimed})`,
        "list only the customer's own domains: mail from a partner's domain must come from the partner",
      ),
    ]
  })

const checkCertificate = (
  connector: ConnectorSource,
  attachments: ReadonlyMap<string, string>,
  now: Date,
): { readonly diagnostics: Array<Diagnostic>; readonly embedded: ConnectorCertificates } => {
  const { doc, file } = connector
  const certificate = doc.clientCertificate
  if (!certificate) return { diagnostics: [], embedded: {} }
  const out: Array<Diagnostic> = []
  const at = diagnosticAt.bind(null, file)
  const pins = certificate.pins ?? []
  pins.forEach((pin, i) => {
    if (!isWellFormedPin(pin))
      out.push(
        at(
          ["clientCertificate", "pins", i],
          "PIN-MALFORMED",
          `pin "${pin}" is not sha256/<base64 SPKI digest>`,
          "compute it with: openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
        ),
      )
  })
  if (certificate.trust === "pins") {
    if (pins.length === 0)
      out.push(
        at(
          ["clientCertificate", "trust"],
          "PINS-REQUIRED",
          "clientCertificate.trust is pins but no pin is listed",
          "add clientCertificate.pins, or use trust: pkix with a ca and names",
        ),
      )
  } else {
    const missing = [
      ...(certificate.ca === undefined ? ["ca"] : []),
      ...((certificate.names?.length ?? 0) === 0 ? ["names"] : []),
    ]
    if (missing.length > 0)
      out.push(
        at(
          ["clientCertificate"],
          "CONNECTOR-CERTIFICATE-INCOMPLETE",
          `connector "${doc.name}" checks client certificates without ${missing.join(" and ")}: any certificate a public CA issued for some name would do`,
          "give the CA that issues the customer's client certificates (ca: certs/<file>.pem) and the names they carry, or use trust: pins with pins",
          { target: "key" },
        ),
      )
  }
  if (doc.requireTls === false)
    out.push(
      at(
        ["requireTls"],
        "CONNECTOR-REQUIRE-TLS-IGNORED",
        `connector "${doc.name}" requires a client certificate, which only TLS carries: requireTls: false has no effect`,
        "remove requireTls (TLS is required), or drop clientCertificate for a network-only connector",
        { severity: "warning" },
      ),
    )
  if (certificate.ca === undefined) return { diagnostics: out, embedded: {} }
  const caFile = checkCertificateFile({
    file,
    path: ["clientCertificate", "ca"],
    field: "ca",
    reference: certificate.ca,
    attachments,
    now,
    notCaHint:
      "give the CA that issues the customer's client certificates; pin a single certificate with trust: pins",
  })
  out.push(...caFile.diagnostics)
  return { diagnostics: out, embedded: caFile.embedded ? { ca: caFile.embedded } : {} }
}

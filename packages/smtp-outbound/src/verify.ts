/**
 * Authenticating the peer per policy (DESIGN §5). Every check is made and recorded; the most
 * fundamental failure is reported (untrusted > expired > name > pin), so an operator never asks a
 * partner to renew an attacker's certificate.
 *
 *  - chain: OpenSSL's verdict against public roots or the partner CA, and our own walk of the
 *    path it implies (issuer names, signatures, CA flags) — Node reports only OpenSSL's last error
 *    and not the verified path; validity against the attempt's clock.
 *  - names: `verify.names`; when empty, the route server's host name (it comes from the signed
 *    policy), or for routes from DNS the recipient domain or a subdomain of it (Postfix `secure`'s
 *    `nexthop:dot-nexthop`) — never an MX host name that unauthenticated DNS returned. DNS names
 *    only (no CN fallback), no partial wildcards (RFC 6125 §6.4.3, RFC 7817 §3).
 *  - pins: the leaf's SPKI; under `pkix` also the key of a certificate on the verified path (a
 *    pinned CA), never a certificate that was merely sent along. With `trust: pins` only the leaf's
 *    pin decides; expiry is reported, not enforced.
 */
import type { X509Certificate } from "node:crypto"
import { rootCertificates } from "node:tls"
import type { FailureCode } from "@mailconnect/failure-codes"
import type { PartnerTls } from "@mailconnect/policy"
import {
  certificatesFromPem,
  certifiedNameWithin,
  certifiesHost,
  dnsNames,
  walkChain,
} from "@mailconnect/x509"
import { describeCertificate, spkiPin } from "./certificate"
import { diagnosePinMismatch } from "./diagnosis"
import { CertExpired, CertNameMismatch, CertPinMismatch, CertUntrusted, type DeliveryError } from "./errors"
import type { CertificateEvidence, VerificationEvidence } from "./evidence"

const DAY = 86_400_000
const EXPIRY_CODES = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"])
/** Our chain walk's problems in OpenSSL's words, as operators know them. */
const WALK_REASON = {
  SELF_SIGNED: "DEPTH_ZERO_SELF_SIGNED_CERT",
  NO_TRUSTED_ISSUER: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  CHAIN_TOO_LONG: "CERT_CHAIN_TOO_LONG",
} as const

export interface PeerToVerify {
  /** Leaf first, then what the peer sent (as Node links it). */
  readonly chain: ReadonlyArray<X509Certificate>
  /** OpenSSL's chain verdict (`socket.authorizationError`), undefined when the chain is valid. */
  readonly authorizationError: string | undefined
}

/** What the certificate must be issued for. */
export type AcceptedNames =
  | { readonly kind: "names"; readonly names: ReadonlyArray<string> }
  | { readonly kind: "domain"; readonly domain: string }

export interface VerifyInput {
  readonly peer: PeerToVerify
  readonly tls: PartnerTls
  readonly accept: AcceptedNames
  readonly server: string
  readonly now: Date
  /** The last certificate this destination presented that passed, for the pin-mismatch diagnosis. */
  readonly previous: CertificateEvidence | undefined
}

export interface Verdict {
  readonly evidence: VerificationEvidence
  readonly error: DeliveryError | undefined
}

/**
 * The names a policy accepts for a next hop: its own `verify.names`, else the host the signed
 * route names (or the address of an address literal), else the recipient domain and its subdomains.
 */
export const acceptedNames = (
  tls: PartnerTls,
  hop: { readonly host: string; readonly source: "route" | "mx" | "implicit-mx" | "address-literal" },
  domain: string,
): AcceptedNames => {
  if (tls.verify.names.length > 0) return { kind: "names", names: tls.verify.names }
  if (hop.source === "route" || hop.source === "address-literal") return { kind: "names", names: [hop.host] }
  return { kind: "domain", domain }
}

const expectedOf = (accept: AcceptedNames): ReadonlyArray<string> =>
  accept.kind === "names" ? accept.names : [accept.domain, `.${accept.domain}`]

/** The DNS name of the certificate that satisfies the rule, if any. */
const matchName = (cert: X509Certificate, accept: AcceptedNames): string | undefined =>
  accept.kind === "names"
    ? accept.names.find((name) => certifiesHost(cert, name))
    : certifiedNameWithin(cert, accept.domain)

let publicRoots: ReadonlyArray<X509Certificate> | undefined
const partnerAnchors = new Map<string, ReadonlyArray<X509Certificate>>()
const anchorsFor = (tls: PartnerTls): ReadonlyArray<X509Certificate> => {
  const pem = tls.verify.ca?.pem
  if (pem === undefined) {
    publicRoots ??= rootCertificates.flatMap((root) => certificatesFromPem(root))
    return publicRoots
  }
  let anchors = partnerAnchors.get(pem)
  if (!anchors) {
    anchors = certificatesFromPem(pem)
    if (partnerAnchors.size > 1_000) partnerAnchors.clear()
    partnerAnchors.set(pem, anchors)
  }
  return anchors
}

const validAt = (cert: X509Certificate, at: number): "valid" | "expired" | "not-yet-valid" =>
  at < new Date(cert.validFrom).getTime()
    ? "not-yet-valid"
    : at > new Date(cert.validTo).getTime()
      ? "expired"
      : "valid"

export const verifyPeer = (input: VerifyInput): Verdict => {
  const { peer, tls, now } = input
  const leaf = peer.chain[0]
  const verify = tls.verify
  const expectedNames = expectedOf(input.accept)
  const anchor = verify.ca ? ("partner-ca" as const) : ("public-roots" as const)
  const common = { server: input.server, phase: "verify" as const, attempts: [] }
  if (!leaf) {
    const error = new CertUntrusted({
      ...common,
      detail: "no peer certificate",
      reason: "NO_PEER_CERTIFICATE",
      anchor,
    })
    return {
      evidence: {
        ok: false,
        failure: error.code,
        findings: [error.code],
        trust: verify.trust,
        chain: "NO_PEER_CERTIFICATE",
        anchor,
        expectedNames,
        matchedName: undefined,
        configuredPins: verify.pins,
        matchedPin: undefined,
        expired: false,
        notYetValid: false,
        daysUntilExpiry: 0,
      },
      error,
    }
  }
  const byPins = verify.trust === "pins"
  const described = describeCertificate(leaf)
  const at = now.getTime()
  const walk = byPins ? undefined : walkChain(peer.chain, anchorsFor(tls))
  const opensslError = peer.authorizationError
  const untrustedReason =
    walk === undefined
      ? undefined
      : opensslError !== undefined && !EXPIRY_CODES.has(opensslError)
        ? opensslError
        : walk.problem !== undefined
          ? WALK_REASON[walk.problem]
          : undefined
  // Validity: the leaf by itself under trust: pins; every certificate on the verified path under pkix.
  const timed = (walk?.anchored ? walk.path : [leaf]).map((cert) => validAt(cert, at))
  const leafValidity = validAt(leaf, at)
  const expiryByOpenssl = opensslError !== undefined && EXPIRY_CODES.has(opensslError)
  const outOfValidity = timed.some((v) => v !== "valid") || (!byPins && expiryByOpenssl)
  const notYetValid = leafValidity === "not-yet-valid" || opensslError === "CERT_NOT_YET_VALID"
  const matchedName = matchName(leaf, input.accept)
  const trustedPins =
    walk?.anchored && untrustedReason === undefined ? walk.path.map(spkiPin) : [described.spkiPin]
  const matchedPin = verify.pins.find((pin) => trustedPins.includes(pin))

  const findings: Array<FailureCode> = []
  if (untrustedReason !== undefined) findings.push("CERT_UNTRUSTED")
  if (outOfValidity) findings.push("CERT_EXPIRED")
  if (!byPins && matchedName === undefined) findings.push("CERT_NAME_MISMATCH")
  if (verify.pins.length > 0 && matchedPin === undefined) findings.push("CERT_PIN_MISMATCH")

  const errorFor = (code: FailureCode): DeliveryError => {
    switch (code) {
      case "CERT_UNTRUSTED":
        return new CertUntrusted({ ...common, detail: untrustedReason!, reason: untrustedReason!, anchor })
      case "CERT_EXPIRED":
        return new CertExpired({
          ...common,
          detail: `valid ${described.notBefore} to ${described.notAfter}, checked at ${now.toISOString()}`,
          form: notYetValid ? "not-yet-valid" : "expired",
          notBefore: described.notBefore,
          notAfter: described.notAfter,
        })
      case "CERT_NAME_MISMATCH":
        return new CertNameMismatch({
          ...common,
          detail: `certificate names ${dnsNames(leaf).join(", ") || "(no DNS names)"}`,
          expected: expectedNames,
          presented: dnsNames(leaf),
        })
      default:
        return new CertPinMismatch({
          ...common,
          detail: `presented ${described.spkiPin}`,
          observedPin: described.spkiPin,
          configuredPins: verify.pins,
          diagnosis: diagnosePinMismatch({
            observed: described,
            previous: input.previous,
            chainValid: walk?.anchored === true && untrustedReason === undefined,
            nameMatches: matchedName !== undefined,
          }),
        })
    }
  }
  // Under trust: pins the pin alone decides; expiry stays in the findings as information.
  const decisive = byPins ? findings.filter((code) => code === "CERT_PIN_MISMATCH") : findings
  const error = decisive[0] === undefined ? undefined : errorFor(decisive[0])
  return {
    evidence: {
      ok: error === undefined,
      failure: error?.code,
      findings,
      trust: verify.trust,
      chain: byPins ? "not-consulted" : (untrustedReason ?? (expiryByOpenssl ? opensslError! : "valid")),
      anchor,
      expectedNames,
      matchedName,
      configuredPins: verify.pins,
      matchedPin,
      expired: leafValidity === "expired" || opensslError === "CERT_HAS_EXPIRED",
      notYetValid,
      daysUntilExpiry: Math.floor((new Date(leaf.validTo).getTime() - at) / DAY),
    },
    error,
  }
}

/**
 * Verifying a sending partner's client certificate, after the handshake, against *that
 * partner's* policy: the partner is only known at MAIL FROM, so the chain cannot be checked by
 * OpenSSL with one CA list at handshake time. The chain is walked with Node's X509Certificate
 * (issuer match + signature) up to the partner CA (or the public roots), every certificate's
 * validity is checked against the given time, then names and pins.
 *
 * Which checks: the partner's `inbound.verify` (its SENDING servers); `tls.verify` describes its
 * receiving servers and applies only to bundles compiled before `inbound.verify` existed.
 *
 * Names: the policy's `verify.names`; when empty, any name inside one of the partner's own
 * domains (its sending servers), so a public-CA certificate of some other party never passes.
 * Every issuer on the path must be a CA (basic constraints CA:TRUE): a leaf key cannot mint
 * certificates. A leaf with an extended key usage must allow TLS client authentication, as
 * OpenSSL's `ssl_client` purpose demands (anyExtendedKeyUsage alone does not): a server-only
 * certificate is not a client certificate. `trust: pins` pins the leaf's key only.
 */
import { X509Certificate } from "node:crypto"
import { rootCertificates } from "node:tls"
import type { Partner, TlsVerify } from "@mailconnect/policy"
import {
  allowsClientAuth,
  certificatesFromPem,
  certifiedNameWithin,
  certifiesHost,
  dnsNames,
  extendedKeyUsage,
  spkiPin,
  walkChain,
} from "@mailconnect/x509"

export type ClientCertificateProblem =
  | "NO_CERTIFICATE"
  | "UNTRUSTED"
  | "EXPIRED"
  | "NAME_MISMATCH"
  | "PIN_MISMATCH"
  | "NOT_CLIENT_AUTH"

export type ClientCertificateVerdict =
  | { readonly ok: true; readonly subject: string; readonly pin: string }
  | { readonly ok: false; readonly problem: ClientCertificateProblem; readonly detail: string }

let publicRoots: ReadonlyArray<X509Certificate> | undefined
const publicAnchors = (): ReadonlyArray<X509Certificate> => {
  publicRoots ??= rootCertificates.map((pem) => new X509Certificate(pem))
  return publicRoots
}

const oneLine = (dn: string) => dn.replace(/\n/g, ", ")

const signedWithoutAuthority = (child: X509Certificate, parent: X509Certificate): boolean => {
  try {
    return child.issuer === parent.subject && child.verify(parent.publicKey)
  } catch {
    return false
  }
}

const validAt = (cert: X509Certificate, now: number): boolean =>
  now >= new Date(cert.validFrom).getTime() && now <= new Date(cert.validTo).getTime()

/**
 * The shared walk (issuer names, signatures, CA flags) leaf → presented CAs → an anchor; then every
 * certificate on the path against the given time. Untrusted is reported before expired: an
 * operator must not ask a partner to renew a certificate that no anchor vouches for.
 */
const chainProblem = (
  chain: ReadonlyArray<X509Certificate>,
  anchors: ReadonlyArray<X509Certificate>,
  now: number,
): { problem: "UNTRUSTED" | "EXPIRED"; detail: string } | undefined => {
  const walk = walkChain(chain, anchors)
  if (!walk.anchored) {
    const last = walk.path.at(-1)!
    // A leaf key cannot mint certificates: name the non-CA signer when that is why.
    const notCa = [...chain.slice(1), ...anchors].find((c) => !c.ca && signedWithoutAuthority(last, c))
    if (notCa)
      return { problem: "UNTRUSTED", detail: `issuer ${oneLine(notCa.subject)} is not a CA certificate` }
    if (walk.problem === "CHAIN_TOO_LONG") return { problem: "UNTRUSTED", detail: "chain too long" }
    return { problem: "UNTRUSTED", detail: `no trusted issuer for ${oneLine(last.issuer)}` }
  }
  const stale = walk.path.find((cert) => !validAt(cert, now))
  if (!stale) return undefined
  const what = stale === chain[0] ? oneLine(stale.subject) : `CA ${oneLine(stale.subject)}`
  return { problem: "EXPIRED", detail: `${what} valid ${stale.validFrom} to ${stale.validTo}` }
}

/** Any DNS name inside one of the partner's own domains (exact or `*.suffix`, and below them). */
const withinPartnerDomains = (leaf: X509Certificate, domains: ReadonlyArray<string>): boolean =>
  domains.some((d) => certifiedNameWithin(leaf, d.startsWith("*.") ? d.slice(2) : d) !== undefined)

export const verifyClientCertificate = (input: {
  /** Leaf first, then what the client sent above it. */
  readonly chain: ReadonlyArray<X509Certificate>
  readonly partner: Partner
  readonly now: number
}): ClientCertificateVerdict =>
  verifyClientChain({
    chain: input.chain,
    verify: input.partner.inbound.verify ?? input.partner.tls.verify,
    ownDomains: input.partner.domains,
    now: input.now,
  })

/**
 * The same checks against any verify block: a partner's `inbound.verify` or a connector's
 * `clientCertificate`. `ownDomains` are the names accepted when `names` is empty (a partner's
 * domains; none for a connector, whose names the compiler requires — so an empty list fails).
 */
export const verifyClientChain = (input: {
  readonly chain: ReadonlyArray<X509Certificate>
  readonly verify: TlsVerify
  readonly ownDomains: ReadonlyArray<string>
  readonly now: number
}): ClientCertificateVerdict => {
  const { chain, verify, now } = input
  const leaf = chain[0]
  if (!leaf) return { ok: false, problem: "NO_CERTIFICATE", detail: "no client certificate presented" }
  const pin = spkiPin(leaf)
  const subject = oneLine(leaf.subject)
  if (!allowsClientAuth(leaf))
    return {
      ok: false,
      problem: "NOT_CLIENT_AUTH",
      detail: `extended key usage ${extendedKeyUsage(leaf)!.join(", ")} does not include clientAuth`,
    }
  if (verify.trust === "pins") {
    if (!verify.pins.includes(pin)) return { ok: false, problem: "PIN_MISMATCH", detail: `presented ${pin}` }
    if (!validAt(leaf, now))
      return { ok: false, problem: "EXPIRED", detail: `valid ${leaf.validFrom} to ${leaf.validTo}` }
    return { ok: true, subject, pin }
  }
  const anchors = verify.ca ? certificatesFromPem(verify.ca.pem) : publicAnchors()
  const problem = chainProblem(chain, anchors, now)
  if (problem) return { ok: false, ...problem }
  const nameOk =
    verify.names.length > 0
      ? verify.names.some((n) => certifiesHost(leaf, n))
      : withinPartnerDomains(leaf, input.ownDomains)
  if (!nameOk)
    return {
      ok: false,
      problem: "NAME_MISMATCH",
      detail: `certificate names ${dnsNames(leaf).join(", ") || "(no DNS names)"}`,
    }
  if (verify.pins.length > 0 && !verify.pins.includes(pin))
    return { ok: false, problem: "PIN_MISMATCH", detail: `presented ${pin}` }
  return { ok: true, subject, pin }
}

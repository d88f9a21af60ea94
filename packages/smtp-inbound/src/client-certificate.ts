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
import type { Partner } from "@mailconnect/policy"
import { certificatesFromPem, spkiPin } from "@mailconnect/x509"

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

const issuedBy = (child: X509Certificate, parent: X509Certificate): boolean => {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey)
  } catch {
    return false
  }
}

/** id-kp-clientAuth (RFC 5280 §4.2.1.12). */
export const CLIENT_AUTH_OID = "1.3.6.1.5.5.7.3.2"

/**
 * The extended key usage OIDs, undefined when the extension is absent. Node 20 names this
 * `keyUsage` (it is the EKU, despite the name); later Node versions add `extKeyUsage`.
 */
const extendedKeyUsage = (cert: X509Certificate): ReadonlyArray<string> | undefined =>
  (cert as X509Certificate & { extKeyUsage?: ReadonlyArray<string> }).extKeyUsage ?? cert.keyUsage

const allowsClientAuth = (cert: X509Certificate): boolean => {
  const usages = extendedKeyUsage(cert)
  return usages === undefined || usages.includes(CLIENT_AUTH_OID)
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

/** Walks leaf → presented intermediates → an anchor. Returns the problem, or undefined when trusted. */
const chainProblem = (
  chain: ReadonlyArray<X509Certificate>,
  anchors: ReadonlyArray<X509Certificate>,
  now: number,
): { problem: "UNTRUSTED" | "EXPIRED"; detail: string } | undefined => {
  let current = chain[0]!
  const intermediates = chain.slice(1).filter((c) => c.ca)
  for (let depth = 0; depth < 8; depth++) {
    if (!validAt(current, now))
      return {
        problem: "EXPIRED",
        detail: `${oneLine(current.subject)} valid ${current.validFrom} to ${current.validTo}`,
      }
    const anchor = anchors.find(
      (a) => a.fingerprint256 === current.fingerprint256 || (a.ca && issuedBy(current, a)),
    )
    if (anchor)
      return validAt(anchor, now)
        ? undefined
        : {
            problem: "EXPIRED",
            detail: `CA ${oneLine(anchor.subject)} expired ${anchor.validTo}`,
          }
    const parent = intermediates.find((c) => issuedBy(current, c))
    if (!parent) {
      // OpenSSL's issuer check already fails for a non-CA; name and signature say why.
      const notCa = [...chain.slice(1), ...anchors].find((c) => !c.ca && signedWithoutAuthority(current, c))
      return notCa
        ? { problem: "UNTRUSTED", detail: `issuer ${oneLine(notCa.subject)} is not a CA certificate` }
        : { problem: "UNTRUSTED", detail: `no trusted issuer for ${oneLine(current.issuer)}` }
    }
    current = parent
  }
  return { problem: "UNTRUSTED", detail: "chain too long" }
}

const certificateNames = (cert: X509Certificate): ReadonlyArray<string> =>
  (cert.subjectAltName ?? "")
    .split(", ")
    .filter((e) => e.startsWith("DNS:"))
    .map((e) => e.slice(4).toLowerCase())

const withinDomains = (name: string, domains: ReadonlyArray<string>): boolean =>
  domains.some((d) => {
    const suffix = d.startsWith("*.") ? d.slice(2) : d
    return name === suffix || name.endsWith(`.${suffix}`)
  })

export const verifyClientCertificate = (input: {
  /** Leaf first, then what the client sent above it. */
  readonly chain: ReadonlyArray<X509Certificate>
  readonly partner: Partner
  readonly now: number
}): ClientCertificateVerdict => {
  const { chain, partner, now } = input
  const leaf = chain[0]
  if (!leaf) return { ok: false, problem: "NO_CERTIFICATE", detail: "no client certificate presented" }
  const verify = partner.inbound.verify ?? partner.tls.verify
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
  const names = certificateNames(leaf)
  const nameOk =
    verify.names.length > 0
      ? verify.names.some((n) => leaf.checkHost(n, { subject: "default" }) !== undefined)
      : names.some((n) => withinDomains(n, partner.domains))
  if (!nameOk)
    return { ok: false, problem: "NAME_MISMATCH", detail: `certificate names ${names.join(", ") || subject}` }
  if (verify.pins.length > 0 && !verify.pins.includes(pin))
    return { ok: false, problem: "PIN_MISMATCH", detail: `presented ${pin}` }
  return { ok: true, subject, pin }
}

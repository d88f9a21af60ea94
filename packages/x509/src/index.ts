/**
 * Reading X.509 certificates the way every part of mailconnect must agree on: the SPKI pin
 * form (`sha256/<base64 of SHA-256 over the DER SubjectPublicKeyInfo>` — not
 * `getPeerCertificate().pubkey`, which is not SPKI), PEM bundles, a TLS peer's chain, the walk
 * of a chain to an anchor with every signature checked, and the name rules (RFC 6125) — the same
 * for partners' receiving servers (outbound) and sending servers (inbound).
 * Node's `X509Certificate` only; no I/O, no sockets.
 */
import { createHash, X509Certificate } from "node:crypto"
import type { TLSSocket } from "node:tls"

export const spkiPin = (certificate: X509Certificate): string =>
  `sha256/${createHash("sha256")
    .update(certificate.publicKey.export({ type: "spki", format: "der" }))
    .digest("base64")}`

/** `-----BEGIN CERTIFICATE-----` blocks of a PEM text (comments and keys between them ignored). */
export const PEM_CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g

/** Every certificate in a PEM bundle; throws on a block that is not a certificate. */
export const certificatesFromPem = (pem: string): ReadonlyArray<X509Certificate> =>
  (pem.match(PEM_CERTIFICATE_BLOCK) ?? []).map((block) => new X509Certificate(block))

/** The peer's leaf and the certificates it sent above it (the root too, if it sent it). */
export const peerChain = (socket: TLSSocket): ReadonlyArray<X509Certificate> => {
  const chain: Array<X509Certificate> = []
  let current = socket.getPeerCertificate(true)
  const seen = new Set<string>()
  while (current?.raw && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256)
    chain.push(new X509Certificate(current.raw))
    const next = current.issuerCertificate
    if (!next || next === current) break
    current = next
  }
  return chain
}

/** DNS and IP subject alternative names, without their `DNS:` / `IP Address:` prefixes. */
export const subjectAltNames = (certificate: X509Certificate): ReadonlyArray<string> =>
  (certificate.subjectAltName ?? "")
    .split(", ")
    .filter((entry) => entry.length > 0)
    .map((entry) => entry.replace(/^DNS:/, "").replace(/^IP Address:/, ""))

/** `child` names `parent` as its issuer and `parent`'s key signed it. */
export const signedBy = (child: X509Certificate, parent: X509Certificate): boolean => {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey)
  } catch {
    return false
  }
}

/** Issued by its own key (whatever its key usage says). */
const selfIssued = (certificate: X509Certificate): boolean => {
  try {
    return certificate.subject === certificate.issuer && certificate.verify(certificate.publicKey)
  } catch {
    return false
  }
}

export type ChainProblem = "SELF_SIGNED" | "NO_TRUSTED_ISSUER" | "CHAIN_TOO_LONG"

export interface ChainWalk {
  /**
   * Leaf first, each certificate signed by the next (signature checked), ending at the anchor when
   * one was reached. Certificates the peer sent that are not on this path are not in it.
   */
  readonly path: ReadonlyArray<X509Certificate>
  readonly anchored: boolean
  readonly problem: ChainProblem | undefined
}

const MAX_DEPTH = 10

/**
 * Walks leaf → presented CA certificates → one of `anchors`, checking every link's issuer name
 * and signature and that each issuer is a CA; validity dates are not consulted (the caller checks
 * them against its own clock). OpenSSL does the same walk at handshake time, but Node reports
 * only its last error and not the path it verified — so a pin on a CA key, or "untrusted rather
 * than expired", is decided on this walk.
 */
export const walkChain = (
  presented: ReadonlyArray<X509Certificate>,
  anchors: ReadonlyArray<X509Certificate>,
): ChainWalk => {
  const leaf = presented[0]
  if (!leaf) return { path: [], anchored: false, problem: "NO_TRUSTED_ISSUER" }
  const path: Array<X509Certificate> = [leaf]
  const intermediates = presented.slice(1).filter((c) => c.ca)
  let current = leaf
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    if (anchors.some((a) => a.fingerprint256 === current.fingerprint256))
      return { path, anchored: true, problem: undefined }
    const anchor = anchors.find((a) => a.ca && signedBy(current, a))
    if (anchor) return { path: [...path, anchor], anchored: true, problem: undefined }
    const parent = intermediates.find(
      (c) => !path.some((p) => p.fingerprint256 === c.fingerprint256) && signedBy(current, c),
    )
    if (!parent) {
      const selfSigned = path.length === 1 && selfIssued(current)
      return { path, anchored: false, problem: selfSigned ? "SELF_SIGNED" : "NO_TRUSTED_ISSUER" }
    }
    path.push(parent)
    current = parent
  }
  return { path, anchored: false, problem: "CHAIN_TOO_LONG" }
}

/** The certificate's DNS names (subject alternative names of type DNS), lower case. */
export const dnsNames = (certificate: X509Certificate): ReadonlyArray<string> =>
  (certificate.subjectAltName ?? "")
    .split(", ")
    .filter((entry) => entry.startsWith("DNS:"))
    .map((entry) => entry.slice(4).toLowerCase())

/** An IPv4 or IPv6 address (as opposed to a host name): matched against IP SANs. */
const isIpLiteral = (name: string): boolean => name.includes(":") || /^\d{1,3}(?:\.\d{1,3}){3}$/.test(name)

/**
 * Is the certificate issued for this host name (or IP address)? DNS names only — never the
 * subject CN — and no partial wildcards (`f*.example`): RFC 6125 §6.4, RFC 7817 §3 for SMTP.
 */
export const certifiesHost = (certificate: X509Certificate, name: string): boolean =>
  isIpLiteral(name)
    ? certificate.checkIP(name) !== undefined
    : certificate.checkHost(name, { subject: "never", partialWildcards: false }) !== undefined

const inDomain = (name: string, domain: string): boolean => name === domain || name.endsWith(`.${domain}`)

/**
 * The certificate's DNS name that lies in `domain` or below it (Postfix's `nexthop:dot-nexthop`),
 * if any. `*.sub.domain` counts (it covers names below `domain`); a partial wildcard never does.
 */
export const certifiedNameWithin = (certificate: X509Certificate, domain: string): string | undefined =>
  dnsNames(certificate).find((san) => {
    if (san.startsWith("*.")) return !san.slice(2).includes("*") && inDomain(san.slice(2), domain)
    return !san.includes("*") && inDomain(san, domain)
  })

/** id-kp-clientAuth (RFC 5280 §4.2.1.12). */
export const CLIENT_AUTH_OID = "1.3.6.1.5.5.7.3.2"

/**
 * The extended key usage OIDs, undefined when the extension is absent. Node 20 names this
 * `keyUsage` (it is the EKU, despite the name); later Node versions add `extKeyUsage`.
 */
export const extendedKeyUsage = (certificate: X509Certificate): ReadonlyArray<string> | undefined =>
  (certificate as X509Certificate & { extKeyUsage?: ReadonlyArray<string> }).extKeyUsage ??
  certificate.keyUsage

/**
 * May the certificate authenticate a TLS client? Yes without an extended key usage; with one it
 * must list clientAuth — anyExtendedKeyUsage alone does not do, as OpenSSL's `ssl_client` purpose.
 */
export const allowsClientAuth = (certificate: X509Certificate): boolean => {
  const usages = extendedKeyUsage(certificate)
  return usages === undefined || usages.includes(CLIENT_AUTH_OID)
}

export * from "./tlsa"

/**
 * Reading X.509 certificates the way every part of mailconnect must agree on: the SPKI pin
 * form (`sha256/<base64 of SHA-256 over the DER SubjectPublicKeyInfo>` — not
 * `getPeerCertificate().pubkey`, which is not SPKI), PEM bundles, and a TLS peer's chain.
 * Node's `X509Certificate` only; no I/O.
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

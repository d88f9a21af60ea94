/** Reading peer certificates: SPKI pins and the evidence fields, from Node's X509Certificate. */
import { createHash, X509Certificate } from "node:crypto"
import type { TLSSocket } from "node:tls"
import type { CertificateEvidence } from "./evidence"

/** `sha256/<base64>` over the DER SubjectPublicKeyInfo (not `getPeerCertificate().pubkey`). */
export const spkiPin = (cert: X509Certificate): string =>
  `sha256/${createHash("sha256")
    .update(cert.publicKey.export({ type: "spki", format: "der" }))
    .digest("base64")}`

const subjectAltNames = (cert: X509Certificate): ReadonlyArray<string> =>
  (cert.subjectAltName ?? "")
    .split(", ")
    .filter((entry) => entry.length > 0)
    .map((entry) => entry.replace(/^DNS:/, "").replace(/^IP Address:/, ""))

export const describeCertificate = (cert: X509Certificate): CertificateEvidence => ({
  subject: cert.subject.replace(/\n/g, ", "),
  issuer: cert.issuer.replace(/\n/g, ", "),
  subjectAltNames: subjectAltNames(cert),
  serialNumber: cert.serialNumber,
  notBefore: new Date(cert.validFrom).toISOString(),
  notAfter: new Date(cert.validTo).toISOString(),
  spkiPin: spkiPin(cert),
  fingerprint256: cert.fingerprint256,
})

/** The leaf and the certificates the peer sent above it (the root too, if it sent it). */
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

export const parsePemBundle = (pem: string): ReadonlyArray<X509Certificate> =>
  (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (block) => new X509Certificate(block),
  )

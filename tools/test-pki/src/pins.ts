/**
 * SPKI pins as policies write them: `sha256/` + base64 of SHA-256 over the DER SubjectPublicKeyInfo.
 * Node's `getPeerCertificate().pubkey` is not the SPKI, so the key is exported from X509Certificate.
 */
import { createHash, X509Certificate } from "node:crypto"

export const spkiPin = (certificate: string | Buffer | X509Certificate): string => {
  const cert = certificate instanceof X509Certificate ? certificate : new X509Certificate(certificate)
  const der = cert.publicKey.export({ type: "spki", format: "der" })
  return `sha256/${createHash("sha256").update(der).digest("base64")}`
}

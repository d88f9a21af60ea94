/** Reading peer certificates: SPKI pins and the evidence fields, from Node's X509Certificate. */
import type { X509Certificate } from "node:crypto"
import { spkiPin, subjectAltNames } from "@mailconnect/x509"
import type { CertificateEvidence } from "./evidence"

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

export { certificatesFromPem as parsePemBundle, peerChain, spkiPin } from "@mailconnect/x509"

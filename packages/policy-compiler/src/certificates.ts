/**
 * Reads partner CA and server certificates from PEM text with Node's `X509Certificate`: pure
 * functions over bytes the edge has already read. What gets embedded in the bundle is the
 * normalized PEM (certificate blocks only, so comments or stray keys never travel), its
 * SHA-256 and the earliest notAfter of the blocks.
 */
import { createHash, X509Certificate } from "node:crypto"
import type { EmbeddedCertificate } from "@mailconnect/policy"
import { PEM_CERTIFICATE_BLOCK, spkiPin } from "@mailconnect/x509"

export interface InspectedCertificate {
  readonly subject: string
  readonly isCA: boolean
  readonly notAfter: Date
  /** `sha256/<base64 SPKI digest>`, the form pins are written in. */
  readonly pin: string
}

export type Inspection =
  | {
      readonly _tag: "Parsed"
      readonly certificates: ReadonlyArray<InspectedCertificate>
      readonly pem: string
    }
  | { readonly _tag: "Unparsable"; readonly reason: string }

const BLOCK = PEM_CERTIFICATE_BLOCK

export { spkiPin }

export const inspectPem = (text: string): Inspection => {
  const blocks = text.match(BLOCK) ?? []
  if (blocks.length === 0) return { _tag: "Unparsable", reason: "no PEM certificate block" }
  const certificates: Array<InspectedCertificate> = []
  for (const [i, block] of blocks.entries()) {
    try {
      const certificate = new X509Certificate(block)
      certificates.push({
        subject: certificate.subject.replace(/\n/g, ", "),
        isCA: certificate.ca,
        notAfter: new Date(certificate.validTo),
        pin: spkiPin(certificate),
      })
    } catch {
      // OpenSSL's wording differs between versions; the operator needs to know which block.
      return { _tag: "Unparsable", reason: `certificate block ${i + 1} is not valid DER` }
    }
  }
  return { _tag: "Parsed", certificates, pem: `${blocks.map((b) => b.replace(/\r\n/g, "\n")).join("\n")}\n` }
}

export const earliestNotAfter = (certificates: ReadonlyArray<InspectedCertificate>): Date =>
  new Date(Math.min(...certificates.map((c) => c.notAfter.getTime())))

export const embed = (
  file: string,
  inspection: Extract<Inspection, { _tag: "Parsed" }>,
): EmbeddedCertificate => ({
  file,
  pem: inspection.pem,
  sha256: createHash("sha256").update(inspection.pem, "utf8").digest("hex"),
  notAfter: earliestNotAfter(inspection.certificates).toISOString(),
})

const PIN = /^sha256\/([A-Za-z0-9+/]{43}=)$/

/** A pin is the base64 of exactly 32 bytes, in its one canonical spelling. */
export const isWellFormedPin = (pin: string): boolean => {
  const match = PIN.exec(pin)
  if (!match) return false
  const raw = Buffer.from(match[1]!, "base64")
  return raw.length === 32 && raw.toString("base64") === match[1]
}

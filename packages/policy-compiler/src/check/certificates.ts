/**
 * Partner CA and certificate files, of `tls.verify` (the partner's receiving servers) and of
 * `inbound.verify` (its sending servers' client certificates): present in the policy directory,
 * parsable, a CA where a CA is expected, not expired, not about to expire, and matching a pin
 * when pins and a certificate are both given. The inspected certificates are returned for
 * embedding, so the bundle carries exactly what was checked.
 */
import type { EmbeddedCertificate } from "@mailconnect/policy"
import { earliestNotAfter, embed, type InspectedCertificate, inspectPem } from "../certificates"
import type { Diagnostic } from "../diagnostic"
import type { ParsedFile, PathSegment } from "../source/parse"
import { diagnosticAt } from "../source/validate"
import type { PartnerSource } from "./sources"

export const EXPIRY_WARNING_DAYS = 30
const DAY_MS = 86_400_000

export interface VerifyCertificates {
  readonly ca?: EmbeddedCertificate
  readonly certificate?: EmbeddedCertificate
}

export interface PartnerCertificates {
  readonly tls: VerifyCertificates
  readonly inbound: VerifyCertificates
}

/** The two verify blocks of a partner file, by their place in it. */
export const VERIFY_BLOCKS = ["tls", "inbound"] as const
export type VerifyBlock = (typeof VERIFY_BLOCKS)[number]

export const verifySource = (partner: PartnerSource, block: VerifyBlock) =>
  block === "tls" ? partner.doc.tls?.verify : partner.doc.inbound?.verify

/** `certs/./a.pem` → `certs/a.pem`; undefined when the path leaves the policy directory. */
export const normalizeRelative = (path: string): string | undefined => {
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) return undefined
  const parts: Array<string> = []
  for (const part of path.replace(/\\/g, "/").split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") {
      if (parts.length === 0) return undefined
      parts.pop()
    } else parts.push(part)
  }
  return parts.join("/")
}

export const checkCertificates = (
  partners: ReadonlyArray<PartnerSource>,
  attachments: ReadonlyMap<string, string>,
  now: Date,
): { readonly diagnostics: Array<Diagnostic>; readonly embedded: Map<string, PartnerCertificates> } => {
  const diagnostics: Array<Diagnostic> = []
  const embedded = new Map<string, PartnerCertificates>()
  for (const partner of partners) {
    const tls = checkBlock(partner, "tls", attachments, now)
    const inbound = checkBlock(partner, "inbound", attachments, now)
    diagnostics.push(...tls.diagnostics, ...inbound.diagnostics)
    embedded.set(partner.doc.name, { tls: tls.embedded, inbound: inbound.embedded })
  }
  return { diagnostics, embedded }
}

const checkBlock = (
  partner: PartnerSource,
  block: VerifyBlock,
  attachments: ReadonlyMap<string, string>,
  now: Date,
): { readonly diagnostics: Array<Diagnostic>; readonly embedded: VerifyCertificates } => {
  const diagnostics: Array<Diagnostic> = []
  const found: { ca?: EmbeddedCertificate; certificate?: EmbeddedCertificate } = {}
  const verify = verifySource(partner, block)
  if (!verify) return { diagnostics, embedded: found }
  for (const field of ["ca", "certificate"] as const) {
    const reference = verify[field]
    if (reference === undefined) continue
    const result = checkFile(partner, block, field, reference, attachments, now)
    diagnostics.push(...result.diagnostics)
    if (result.embedded) found[field] = result.embedded
    if (field === "certificate" && result.certificates && (verify.pins?.length ?? 0) > 0) {
      const pins = new Set(verify.pins)
      if (!result.certificates.some((c) => pins.has(c.pin)))
        diagnostics.push(
          diagnosticAt(
            partner.file,
            [block, "verify", "pins"],
            "PIN-CERTIFICATE-MISMATCH",
            `no pin matches the certificate in ${reference} (its pin is ${result.certificates[0]!.pin})`,
            "add that pin if the partner rotated its key, or update the certificate file",
            { severity: "warning" },
          ),
        )
    }
  }
  return { diagnostics, embedded: found }
}

const checkFile = (
  partner: PartnerSource,
  block: VerifyBlock,
  field: "ca" | "certificate",
  reference: string,
  attachments: ReadonlyMap<string, string>,
  now: Date,
) =>
  checkCertificateFile({
    file: partner.file,
    path: [block, "verify", field],
    field,
    reference,
    attachments,
    now,
    notCaHint: `give the issuing CA here; a ${block === "tls" ? "server" : "client"} certificate belongs in ${block}.verify.certificate with pins`,
  })

/**
 * One referenced certificate file: there, parsable, a CA where one is expected, not expired (and
 * not expiring soon). Shared by partners' verify blocks and connectors' clientCertificate.
 */
export const checkCertificateFile = (input: {
  readonly file: ParsedFile
  readonly path: ReadonlyArray<PathSegment>
  readonly field: "ca" | "certificate"
  readonly reference: string
  readonly attachments: ReadonlyMap<string, string>
  readonly now: Date
  readonly notCaHint: string
}): {
  diagnostics: Array<Diagnostic>
  embedded?: EmbeddedCertificate
  certificates?: ReadonlyArray<InspectedCertificate>
} => {
  const { field, reference, attachments, now } = input
  const at = diagnosticAt.bind(null, input.file, input.path)
  const what = field === "ca" ? "CA file" : "certificate file"
  const normalized = normalizeRelative(reference)
  const text = normalized === undefined ? undefined : attachments.get(normalized)
  if (text === undefined)
    return {
      diagnostics: [
        at(
          "CERT-FILE-MISSING",
          normalized === undefined
            ? `${what} ${reference} is outside the policy directory`
            : `${what} ${reference} does not exist`,
          "put the public PEM certificate under certs/ and refer to it as certs/<file>.pem",
        ),
      ],
    }
  const inspection = inspectPem(text)
  if (inspection._tag === "Unparsable")
    return {
      diagnostics: [
        at(
          "CERT-UNPARSABLE",
          `${what} ${reference} is not a PEM certificate (${inspection.reason})`,
          "export the certificate as PEM (-----BEGIN CERTIFICATE-----)",
        ),
      ],
    }
  const diagnostics: Array<Diagnostic> = []
  if (field === "ca") {
    const leaf = inspection.certificates.find((c) => !c.isCA)
    if (leaf)
      diagnostics.push(
        at(
          "CA-NOT-CA",
          `${reference} holds "${leaf.subject}", which is not a CA certificate`,
          input.notCaHint,
        ),
      )
  }
  const notAfter = earliestNotAfter(inspection.certificates)
  const days = Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS)
  const date = notAfter.toISOString().slice(0, 10)
  if (notAfter.getTime() <= now.getTime())
    diagnostics.push(
      at(
        "CERT-EXPIRED",
        `${what} ${reference} expired on ${date}`,
        "get the partner's current certificate and replace the file",
      ),
    )
  else if (days < EXPIRY_WARNING_DAYS)
    diagnostics.push(
      at(
        "CERT-EXPIRING",
        `${what} ${reference} expires on ${date} (in ${days} days)`,
        "ask the partner for the successor and add it (a file may hold several certificates)",
        { severity: "warning" },
      ),
    )
  return { diagnostics, embedded: embed(normalized!, inspection), certificates: inspection.certificates }
}

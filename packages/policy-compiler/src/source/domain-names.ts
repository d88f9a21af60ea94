/**
 * Every domain a policy file names, in its one stored form: UTS-46 A-labels, lower case
 * (DESIGN §3). Runs on each valid document before any rule compares domains, so
 * `müller-bank.de`, `xn--mller-bank-9db.de` and `MÜLLER-BANK.de.` are one domain to
 * DOMAIN-CONFLICT, to the lookup index and to the relay. A domain that does not convert keeps
 * its place (diagnostic paths stay valid) and is reported as DOMAIN-INVALID; the compile then
 * fails, so the unconverted text never reaches a bundle. Route servers and next hops are
 * converted where they are parsed (`address.ts`).
 */
import { isAddressLiteral, patternToALabel, toALabel } from "@mailconnect/policy"
import type { Diagnostic } from "../diagnostic"
import { isIpAddress } from "./address"
import type { PathSegment } from "./parse"
import { diagnosticAt, type ValidDoc } from "./validate"

type Problem = "literal" | "wildcard" | "labels" | "single-label" | "numeric-tld"

type Converted = { readonly domain: string } | { readonly problem: Problem }

/** What may be written where: recipient domains may be `*.suffix`, local domains may not. */
type Form = "pattern" | "exact" | "certificate-name"

const convert = (written: string, form: Form): Converted => {
  const text = written.trim()
  if (isAddressLiteral(text)) return { problem: "literal" }
  // A certificate may carry an IP address as its subject alternative name.
  if (form === "certificate-name" && isIpAddress(text)) return { domain: text.toLowerCase() }
  const wildcard = text.startsWith("*.")
  if (form === "exact" && wildcard) return { problem: "wildcard" }
  const domain = form === "exact" ? toALabel(text) : patternToALabel(text)
  if (domain === undefined)
    return { problem: text.slice(wildcard ? 2 : 0).includes("*") ? "wildcard" : "labels" }
  const labels = (wildcard ? domain.slice(2) : domain).split(".")
  // URL host parsing reads `1.2.3` or `0x7f.1` as an IPv4 address; no top-level domain is numeric.
  if (/^(\d+|0x[0-9a-f]*)$/.test(labels[labels.length - 1]!)) return { problem: "numeric-tld" }
  if (form !== "certificate-name" && labels.length < 2) return { problem: "single-label" }
  return { domain }
}

const PROBLEMS: Record<Problem, { readonly message: string; readonly hint: string }> = {
  literal: {
    message: "is an address literal, not a domain",
    hint: "name the domain; mail to an address literal is routed to that address and has no policy here",
  },
  wildcard: {
    message: "has a wildcard that is not the whole first label",
    hint: "write an exact domain (bank.example) or, where allowed, *.suffix for its subdomains (*.bank.example)",
  },
  labels: {
    message: "is not a valid domain name after UTS-46 processing",
    hint: "write it as in DNS, in Unicode (müller-bank.de) or A-labels (xn--mller-bank-9db.de): letters, digits and inner hyphens, no empty labels",
  },
  "single-label": {
    message: "has a single label",
    hint: "write the full domain, e.g. bank.example",
  },
  "numeric-tld": {
    message: "ends in a numeric label (read as an IPv4 address)",
    hint: "write the full domain name; an IPv4 route server belongs in route.servers as a.b.c.d[:port]",
  },
}

export interface ConvertedDoc {
  readonly valid: ValidDoc
  readonly diagnostics: ReadonlyArray<Diagnostic>
}

/** The document with every domain in A-label form, plus a DOMAIN-INVALID per domain that does not convert. */
export const convertDomainNames = (valid: ValidDoc): ConvertedDoc => {
  const diagnostics: Array<Diagnostic> = []
  const list = (values: ReadonlyArray<string>, path: ReadonlyArray<PathSegment>, form: Form) =>
    values.map((written, i) => one(written, [...path, i], form))
  const one = (written: string, path: ReadonlyArray<PathSegment>, form: Form): string => {
    const converted = convert(written, form)
    if ("domain" in converted) return converted.domain
    const { message, hint } = PROBLEMS[converted.problem]
    diagnostics.push(diagnosticAt(valid.file, path, "DOMAIN-INVALID", `"${written}" ${message}`, hint))
    return written
  }

  switch (valid.kind) {
    case "Partner": {
      const { doc } = valid
      const tlsVerify = doc.tls?.verify
      const inboundVerify = doc.inbound?.verify
      const [first, ...rest] = list(doc.domains, ["domains"], "pattern")
      return {
        valid: {
          ...valid,
          doc: {
            ...doc,
            domains: [first!, ...rest],
            ...(doc.tls && tlsVerify?.names
              ? {
                  tls: {
                    ...doc.tls,
                    verify: {
                      ...tlsVerify,
                      names: list(tlsVerify.names, ["tls", "verify", "names"], "certificate-name"),
                    },
                  },
                }
              : {}),
            ...(doc.inbound && inboundVerify?.names
              ? {
                  inbound: {
                    ...doc.inbound,
                    verify: {
                      ...inboundVerify,
                      names: list(inboundVerify.names, ["inbound", "verify", "names"], "certificate-name"),
                    },
                  },
                }
              : {}),
          },
        },
        diagnostics,
      }
    }
    case "LocalDomains":
      return {
        valid: {
          ...valid,
          doc: {
            ...valid.doc,
            domains: valid.doc.domains.map((entry, i) => ({
              ...entry,
              domain: one(entry.domain, ["domains", i, "domain"], "exact"),
            })),
          },
        },
        diagnostics,
      }
    case "ClosedGroup":
      return {
        valid: {
          ...valid,
          doc: { ...valid.doc, localDomains: list(valid.doc.localDomains, ["localDomains"], "exact") },
        },
        diagnostics,
      }
    case "Connector": {
      const { doc } = valid
      const [first, ...rest] = list(doc.senderDomains, ["senderDomains"], "pattern")
      const certificate = doc.clientCertificate
      return {
        valid: {
          ...valid,
          doc: {
            ...doc,
            senderDomains: [first!, ...rest],
            ...(certificate?.names
              ? {
                  clientCertificate: {
                    ...certificate,
                    names: list(certificate.names, ["clientCertificate", "names"], "certificate-name"),
                  },
                }
              : {}),
          },
        },
        diagnostics,
      }
    }
    case "Defaults":
      return { valid, diagnostics }
  }
}

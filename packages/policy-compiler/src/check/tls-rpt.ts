/**
 * The TLS-RPT address a local domain publishes (RFC 8460 §3): `tlsRpt.rua` as written → the
 * model's `PublishedTlsRpt`, or the problems found (TLS-RPT-INVALID). Resolve takes the same
 * reading, so check and resolve never disagree. A `mailto:` must be one address; an `https:` URI
 * must parse; nothing else is a TLS-RPT scheme.
 */
import type { Diagnostic } from "../diagnostic"
import type { PathSegment } from "../source/parse"
import { diagnosticAt } from "../source/validate"
import type { LocalDomainsSource } from "./sources"

interface Problem {
  readonly path: ReadonlyArray<PathSegment>
  readonly message: string
  readonly hint: string
}

const ADDRESS = /^[^\s@<>(),;:"\\]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/i

const usable = (uri: string): boolean => {
  if (/^mailto:/i.test(uri)) return ADDRESS.test(uri.slice(7))
  if (!/^https:\/\//i.test(uri)) return false
  try {
    return new URL(uri).hostname.length > 0
  } catch {
    return false
  }
}

export const readTlsRpt = (source: {
  readonly rua: ReadonlyArray<string>
}): { readonly rua: ReadonlyArray<string>; readonly problems: ReadonlyArray<Problem> } => {
  const rua = source.rua.map((u) => u.trim())
  const problems: Array<Problem> = rua.flatMap((uri, i) =>
    usable(uri)
      ? []
      : [
          {
            path: ["rua", i],
            message: `tlsRpt.rua "${uri}" is not a mailto: address or an https: URL`,
            hint: "write mailto:tlsrpt@your-domain.example or https://reports.your-domain.example/tlsrpt",
          },
        ],
  )
  if (rua.length === 0)
    problems.push({
      path: ["rua"],
      message: "tlsRpt without any rua",
      hint: "name where senders send their reports, e.g. rua: [mailto:tlsrpt@your-domain.example]",
    })
  return { rua, problems }
}

export const checkPublishedTlsRpt = (sources: ReadonlyArray<LocalDomainsSource>): Array<Diagnostic> =>
  sources.flatMap(({ doc, file }) =>
    doc.domains.flatMap((entry, i) =>
      entry.tlsRpt === undefined
        ? []
        : readTlsRpt(entry.tlsRpt).problems.map((p) =>
            diagnosticAt(file, ["domains", i, "tlsRpt", ...p.path], "TLS-RPT-INVALID", p.message, p.hint),
          ),
    ),
  )

/**
 * Who owns which recipient domain. A domain belongs to one partner; a wildcard `*.s` covers
 * the subdomains of `s` (not `s` itself). At delivery the most specific claim wins, but an
 * overlap between two partners is refused unless the more specific partner states it with
 * `overrides: [other]` — an accidental overlap silently steals mail from a partner.
 * Our own local domains are never partner domains. Domains arrive here as A-labels
 * (`source/domain-names.ts`), so two spellings of one domain are one claim.
 */
import type { Diagnostic } from "../diagnostic"
import { diagnosticAt } from "../source/validate"
import type { LocalDomainsSource, PartnerSource } from "./sources"

interface Claim {
  readonly partner: PartnerSource
  readonly index: number
  readonly pattern: string
}

/** `xn--mller-bank-9db.de (written müller-bank.de)` when the file spells it otherwise. */
const spelled = (partner: PartnerSource, index: number): string => {
  const pattern = partner.doc.domains[index]!
  const written = writtenDomains(partner)[index]
  return typeof written === "string" && written !== pattern ? `${pattern} (written ${written})` : pattern
}

const writtenDomains = (partner: PartnerSource): ReadonlyArray<unknown> => {
  const domains = (partner.file.value as { domains?: unknown }).domains
  return Array.isArray(domains) ? domains : []
}

const where = (claim: Claim): string => `partner "${claim.partner.doc.name}" (${claim.partner.file.path})`

/** The strict ancestors of a domain, nearest first: a.b.c.example → b.c.example, c.example, example. */
const ancestors = function* (domain: string): Generator<string> {
  let dot = domain.indexOf(".")
  while (dot !== -1) {
    yield domain.slice(dot + 1)
    dot = domain.indexOf(".", dot + 1)
  }
}

export const checkDomains = (
  partners: ReadonlyArray<PartnerSource>,
  localDomains: ReadonlyArray<LocalDomainsSource>,
  declaredPartners: ReadonlySet<string>,
): Array<Diagnostic> => {
  const out: Array<Diagnostic> = []
  const exact = new Map<string, Claim>()
  const wildcard = new Map<string, Claim>()
  const claims: Array<Claim> = []

  for (const partner of partners) {
    ;(partner.doc.overrides ?? []).forEach((name, i) => {
      if (!declaredPartners.has(name))
        out.push(
          diagnosticAt(
            partner.file,
            ["overrides", i],
            "OVERRIDES-UNKNOWN",
            `overrides names "${name}", which is not a partner`,
            "name an existing partner or remove the entry",
          ),
        )
    })
    partner.doc.domains.forEach((pattern, index) => {
      const claim = { partner, index, pattern }
      const isWildcard = pattern.startsWith("*.")
      const table = isWildcard ? wildcard : exact
      const key = isWildcard ? pattern.slice(2) : pattern
      const first = table.get(key)
      if (first && first.partner !== partner)
        out.push(
          diagnosticAt(
            partner.file,
            ["domains", index],
            "DOMAIN-CONFLICT",
            `${spelled(partner, index)} is already claimed by ${where(first)}`,
            "a domain belongs to exactly one partner: remove it from one of them",
          ),
        )
      else if (!first) {
        table.set(key, claim)
        claims.push(claim)
      }
    })
  }

  for (const claim of claims) {
    const base = claim.pattern.startsWith("*.") ? claim.pattern.slice(2) : claim.pattern
    for (const suffix of ancestors(base)) {
      const cover = wildcard.get(suffix)
      if (!cover || cover.partner === claim.partner) continue
      if (claim.partner.doc.overrides?.includes(cover.partner.doc.name)) continue
      out.push(
        diagnosticAt(
          claim.partner.file,
          ["domains", claim.index],
          "DOMAIN-OVERLAP",
          `${claim.pattern} is also covered by ${cover.pattern} of ${where(cover)}`,
          `add overrides: [${cover.partner.doc.name}] to partner "${claim.partner.doc.name}" so the more specific domain wins, or remove the overlap`,
        ),
      )
    }
  }

  for (const source of localDomains)
    source.doc.domains.forEach((entry) => {
      const domain = entry.domain
      const owner =
        exact.get(domain) ??
        [...ancestors(domain)].map((s) => wildcard.get(s)).find((c): c is Claim => c !== undefined)
      if (owner)
        out.push(
          diagnosticAt(
            owner.partner.file,
            ["domains", owner.index],
            "LOCAL-DOMAIN-CLAIMED",
            owner.pattern === domain
              ? `${domain} is one of our local domains (${source.file.path})`
              : `${owner.pattern} covers our local domain ${domain} (${source.file.path})`,
            "a partner cannot own a domain this relay receives mail for: remove it from the partner",
          ),
        )
    })
  return out
}

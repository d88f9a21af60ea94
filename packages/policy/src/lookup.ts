/**
 * Recipient-domain lookup over a resolved policy set. Exact domains win over wildcards; among
 * wildcards the longest suffix (most specific) wins. `*.example.org` covers subdomains of
 * example.org, not example.org itself — list both when both are meant.
 *
 * Built once per activated bundle, then called for every recipient domain: Maps, no allocation
 * beyond the label walk.
 */
import type { LocalDomain, LookupIndex, Partner, PolicySet, RetryPolicy } from "./model"

export const normalizeDomain = (domain: string): string => {
  const lower = domain.toLowerCase()
  return lower.endsWith(".") ? lower.slice(0, -1) : lower
}

/** What delivery to one recipient domain must honour. */
export interface EffectivePolicy {
  readonly domain: string
  /** undefined: no bilateral agreement; the fleet default (usually opportunistic) applies. */
  readonly partner: Partner | undefined
  readonly tls: Partner["tls"]
  readonly retry: RetryPolicy
  readonly servers: Partner["servers"]
}

export interface PolicyLookup {
  readonly partnerFor: (domain: string) => Partner | undefined
  readonly localDomain: (domain: string) => LocalDomain | undefined
  readonly effective: (domain: string) => EffectivePolicy
}

export const makeLookup = (policy: PolicySet, index: LookupIndex): PolicyLookup => {
  const partners = new Map(Object.entries(policy.partners))
  const exact = new Map<string, Partner>()
  const wildcard = new Map<string, Partner>()
  for (const [domain, name] of Object.entries(index.exact)) {
    const partner = partners.get(name)
    if (partner) exact.set(domain, partner)
  }
  for (const [suffix, name] of Object.entries(index.wildcard)) {
    const partner = partners.get(name)
    if (partner) wildcard.set(suffix, partner)
  }
  const locals = new Map(Object.entries(policy.localDomains))

  const partnerFor = (domain: string): Partner | undefined => {
    const name = normalizeDomain(domain)
    const hit = exact.get(name)
    if (hit) return hit
    if (wildcard.size === 0) return undefined
    let dot = name.indexOf(".")
    while (dot !== -1) {
      const found = wildcard.get(name.slice(dot + 1))
      if (found) return found
      dot = name.indexOf(".", dot + 1)
    }
    return undefined
  }

  const defaultTls: Partner["tls"] = {
    mode: policy.defaults.tls.mode,
    minVersion: policy.defaults.tls.minVersion,
    ...(policy.defaults.tls.ciphers === undefined ? {} : { ciphers: policy.defaults.tls.ciphers }),
    ...(policy.defaults.tls.dane === undefined ? {} : { dane: policy.defaults.tls.dane }),
    ...(policy.defaults.tls.mtaSts === undefined ? {} : { mtaSts: policy.defaults.tls.mtaSts }),
    verify: { trust: "pkix", names: [], pins: [] },
  }

  return {
    partnerFor,
    localDomain: (domain) => locals.get(normalizeDomain(domain)),
    effective: (domain) => {
      const partner = partnerFor(domain)
      return {
        domain: normalizeDomain(domain),
        partner,
        tls: partner ? partner.tls : defaultTls,
        retry: partner ? partner.retry : policy.defaults.retry,
        servers: partner?.servers,
      }
    },
  }
}

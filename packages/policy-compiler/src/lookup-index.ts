/**
 * The lookup index a relay answers "which partner owns this recipient domain" from: exact
 * domains and wildcard suffixes (`*.example.org` → `example.org`), each mapping to a partner
 * name. Most-specific-wins is the lookup's job (`makeLookup`); conflicts were refused earlier.
 */
import type { LookupIndex, PolicySet } from "@mailconnect/policy"

export const buildIndex = (policy: PolicySet): LookupIndex => {
  const exact: Record<string, string> = {}
  const wildcard: Record<string, string> = {}
  for (const name of Object.keys(policy.partners).sort())
    for (const domain of policy.partners[name]!.domains)
      if (domain.startsWith("*.")) wildcard[domain.slice(2)] = name
      else exact[domain] = name
  return { exact, wildcard }
}

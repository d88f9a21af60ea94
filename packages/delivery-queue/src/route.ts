/** Where a recipient domain's mail goes, decided from the active policy at delivery time. */
import { isAddressLiteral, type PolicyLookup } from "@mailconnect/policy"
import { canonicalDomain } from "./message"
import type { Route } from "./ports"

export const routeFor = (lookup: PolicyLookup, domain: string): Route => {
  // An address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`) is no partner's and no customer's
  // domain: the fleet default applies, and the outbound adapter connects to the address itself.
  // It keeps its one spelling (`IPv6:` tag) rather than the lookup's lower-cased form.
  if (isAddressLiteral(domain)) {
    const effective = lookup.effective(domain)
    return { policy: { ...effective, domain: canonicalDomain(domain) }, local: false }
  }
  const effective = lookup.effective(domain)
  const local = lookup.localDomain(domain)
  // Our own customers' mailbox servers: the internal next hop, with the fleet's default TLS
  // (the compiler keeps local domains and partner domains apart).
  return local
    ? { policy: { ...effective, servers: [local.deliverTo] }, local: true }
    : { policy: effective, local: false }
}

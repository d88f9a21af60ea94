/** Where a recipient domain's mail goes, decided from the active policy at delivery time. */
import type { PolicyLookup } from "@mailconnect/policy"
import type { Route } from "./ports"

export const routeFor = (lookup: PolicyLookup, domain: string): Route => {
  const effective = lookup.effective(domain)
  const local = lookup.localDomain(domain)
  // Our own customers' mailbox servers: the internal next hop, with the fleet's default TLS
  // (the compiler keeps local domains and partner domains apart).
  return local
    ? { policy: { ...effective, servers: [local.deliverTo] }, local: true }
    : { policy: effective, local: false }
}

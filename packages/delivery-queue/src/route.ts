/** Where a recipient domain's mail goes, decided from the active policy at delivery time. */
import type { PolicyLookup, RetryPolicy } from "@mailconnect/policy"
import type { Route } from "./ports"

export interface RouteDecision {
  readonly route: Route
  readonly retry: RetryPolicy
}

export const routeFor = (lookup: PolicyLookup, domain: string): RouteDecision => {
  const effective = lookup.effective(domain)
  const local = lookup.localDomain(domain)
  if (local) {
    // Our own customers' mailbox servers: the internal next hop, with the fleet's default TLS
    // (the compiler keeps local domains and partner domains apart).
    return {
      route: {
        domain: effective.domain,
        partner: undefined,
        local: true,
        tls: effective.tls,
        servers: [local.deliverTo],
      },
      retry: effective.retry,
    }
  }
  return {
    route: {
      domain: effective.domain,
      partner: effective.partner?.name,
      local: false,
      tls: effective.tls,
      servers: effective.servers,
    },
    retry: effective.retry,
  }
}

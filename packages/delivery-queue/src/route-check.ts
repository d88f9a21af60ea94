/**
 * Has a partner changed provider? A partner whose policy names its servers (`route.servers`)
 * keeps getting mail there whatever its DNS says — right while the agreement holds, wrong once
 * the partner moved its mail elsewhere (the seed names a changed provider as a common cause of
 * failures). This compares the domain's MX hosts with the route: when none of the route's hosts
 * is among them, the route is stale or the partner moved, and the operator is told, in words an
 * NDR can carry too. Pure; the relay looks up the MX (`apps/relay/src/layers/route-watch.ts`).
 */
import { Schema } from "effect"

export const RouteCheck = Schema.Struct({
  domain: Schema.String,
  /** The MX hosts DNS gave, lower case, without the trailing dot. */
  mx: Schema.Array(Schema.String),
  /** The hosts the partner's route targets. */
  route: Schema.Array(Schema.String),
  /** No route host is an MX host of the domain. */
  mismatch: Schema.Boolean,
  checkedAt: Schema.Number,
})
export type RouteCheck = typeof RouteCheck.Type

const host = (name: string) => name.toLowerCase().replace(/\.$/, "")

export const checkRoute = (
  domain: string,
  mx: ReadonlyArray<string>,
  route: ReadonlyArray<string>,
  checkedAt: number,
): RouteCheck => {
  const mxHosts = [...new Set(mx.map(host))].filter((h) => h.length > 0).sort()
  const routeHosts = [...new Set(route.map(host))].sort()
  // No MX at all (or only a null MX) says nothing about a provider: the route is the only way.
  const mismatch = mxHosts.length > 0 && !routeHosts.some((h) => mxHosts.includes(h))
  return { domain: host(domain), mx: mxHosts, route: routeHosts, mismatch, checkedAt }
}

/** e.g. "bank.example's MX now points to mx.other-provider.example; our route still targets smtp-in.bank.example" */
export const describeRouteMismatch = (c: RouteCheck): string =>
  `${c.domain}'s MX now points to ${c.mx.join(", ")}; our route still targets ${c.route.join(", ")}`

/**
 * `IngressPolicy`: what the listeners need from the active bundle — the lookup (local domains,
 * the partner of a sender domain), every partner, since a client certificate identifies its
 * sending partner whatever domain the MAIL FROM claims, and the connectors with their network
 * matchers (built once per bundle, so a new bundle changes connectors without a restart). The relay binds it to the hot-loaded
 * bundle (apps/relay/src/layers/ingress.ts); tests use `fixed`.
 */
import {
  type Connector,
  type LookupIndex,
  makeLookup,
  networkMatcher,
  type Partner,
  type PolicyLookup,
  type PolicySet,
} from "@mailconnect/policy"
import { Context, Effect, Layer } from "effect"

export interface ActiveConnector {
  readonly connector: Connector
  /** The client address is in one of the connector's networks (false when it lists none). */
  readonly fromNetwork: (address: string) => boolean
}

export interface ActiveIngressPolicy {
  readonly serial: number
  readonly lookup: PolicyLookup
  readonly partners: ReadonlyArray<Partner>
  readonly connectors: ReadonlyArray<ActiveConnector>
}

export const activeIngressPolicy = (
  policy: PolicySet,
  lookup: PolicyLookup,
  serial: number,
): ActiveIngressPolicy => ({
  serial,
  lookup,
  partners: Object.values(policy.partners),
  connectors: Object.values(policy.connectors ?? {}).map((connector) => ({
    connector,
    fromNetwork: networkMatcher(connector.networks),
  })),
})

export class IngressPolicy extends Context.Tag("@mailconnect/smtp-inbound/IngressPolicy")<
  IngressPolicy,
  {
    /** The bundle active right now; undefined before the first bundle is loaded. */
    readonly current: Effect.Effect<ActiveIngressPolicy | undefined>
  }
>() {
  /** A policy that never changes: for tests and tools that do not hot-load bundles. */
  static fixed = (policy: PolicySet, index: LookupIndex, serial = 1) =>
    Layer.succeed(IngressPolicy, {
      current: Effect.succeed(activeIngressPolicy(policy, makeLookup(policy, index), serial)),
    })
}

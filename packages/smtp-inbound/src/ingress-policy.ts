/**
 * `IngressPolicy`: what the listeners need from the active bundle — the lookup (local domains,
 * the partner of a sender domain) and every partner, since a client certificate identifies its
 * sending partner whatever domain the MAIL FROM claims. The relay binds it to the hot-loaded
 * bundle (apps/relay/src/layers/ingress.ts); tests use `fixed`.
 */
import {
  type LookupIndex,
  makeLookup,
  type Partner,
  type PolicyLookup,
  type PolicySet,
} from "@mailconnect/policy"
import { Context, Effect, Layer } from "effect"

export interface ActiveIngressPolicy {
  readonly serial: number
  readonly lookup: PolicyLookup
  readonly partners: ReadonlyArray<Partner>
}

export const activeIngressPolicy = (
  policy: PolicySet,
  lookup: PolicyLookup,
  serial: number,
): ActiveIngressPolicy => ({ serial, lookup, partners: Object.values(policy.partners) })

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

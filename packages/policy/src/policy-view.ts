/**
 * `PolicyView`: the policy as its readers at delivery time see it — the active serial, the
 * lookups, the DSN languages, and each activation of a new policy. A port: the hot-loading
 * adapter (`policy-store`) provides it; tools and tests use `PolicyView.fixed`.
 */
import { Context, Effect, Layer, Stream } from "effect"
import { makeLookup, type PolicyLookup } from "./lookup"
import type { LookupIndex, PolicySet } from "./model"

export interface ActivePolicyView {
  readonly serial: number
  readonly policy: PolicySet
  readonly lookup: PolicyLookup
  /** DSN languages from the policy defaults, in order (e.g. ["de", "en"]). */
  readonly dsnLanguages: ReadonlyArray<string>
}

/** A newly activated policy and the one it replaced (undefined for the first). */
export interface PolicyActivation {
  readonly previous: ActivePolicyView | undefined
  readonly next: ActivePolicyView
}

export const activePolicyView = (
  policy: PolicySet,
  index: LookupIndex,
  serial: number,
): ActivePolicyView => ({
  serial,
  policy,
  lookup: makeLookup(policy, index),
  dsnLanguages: policy.defaults.dsn.languages,
})

export class PolicyView extends Context.Tag("@mailconnect/PolicyView")<
  PolicyView,
  {
    /** The policy active right now; undefined before the first bundle is loaded. */
    readonly current: Effect.Effect<ActivePolicyView | undefined>
    /**
     * The policy as the store holds it now: re-reads it (activating a newer bundle at once) and
     * returns the active one. For a decision that must not rest on a bundle the rest of the fleet
     * may already have replaced (a failed attempt), not for every read.
     */
    readonly latest: Effect.Effect<ActivePolicyView | undefined>
    /** Every activation after subscribing. */
    readonly activations: Stream.Stream<PolicyActivation>
  }
>() {
  /** A policy that never changes: for tools and tests that do not hot-load bundles. */
  static fixed = (policy: PolicySet, index: LookupIndex, serial = 1) => {
    const view = Effect.succeed(activePolicyView(policy, index, serial))
    return Layer.succeed(PolicyView, { current: view, latest: view, activations: Stream.empty })
  }

  /** No policy at all: readers that never consult it (the dashboard's queue views). */
  static none = Layer.succeed(PolicyView, {
    current: Effect.succeed(undefined),
    latest: Effect.succeed(undefined),
    activations: Stream.empty,
  })
}

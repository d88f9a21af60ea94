/**
 * The policy core's `PolicyView` port, provided by the hot-loaded bundle (`ActivePolicy`): the
 * relay's workers and the CLI's `queue flush --partner` read the policy through it. One view per
 * activated bundle, not one per read.
 */
import { type ActivePolicyView, PolicyView } from "@mailconnect/policy"
import { Effect, Layer, Option, Stream } from "effect"
import { type ActiveBundle, ActivePolicy } from "./active-policy"

const viewOf = (bundle: ActiveBundle): ActivePolicyView => ({
  serial: bundle.serial,
  policy: bundle.payload.policy,
  lookup: bundle.lookup,
  dsnLanguages: bundle.payload.policy.defaults.dsn.languages,
})

export const PolicyViewFromActivePolicy = Layer.effect(
  PolicyView,
  Effect.map(ActivePolicy, (active) => {
    const views = new WeakMap<ActiveBundle, ActivePolicyView>()
    const view = (bundle: ActiveBundle): ActivePolicyView => {
      const known = views.get(bundle) ?? viewOf(bundle)
      views.set(bundle, known)
      return known
    }
    const current = Effect.map(active.current, Option.match({ onNone: () => undefined, onSome: view }))
    return {
      current,
      // A refresh that cannot reach Redis keeps the active bundle (it logs that itself).
      latest: Effect.zipRight(active.refresh, current),
      activations: Stream.map(active.activations, ({ previous, next }) => ({
        previous: Option.match(previous, { onNone: () => undefined, onSome: view }),
        next: view(next),
      })),
    }
  }),
)

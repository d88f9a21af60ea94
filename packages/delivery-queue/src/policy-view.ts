/** `PolicyView` backed by the hot-loaded bundle (`policy-store`'s `ActivePolicy`). */
import { ActivePolicy } from "@mailconnect/policy-store"
import { Effect, Layer, Option } from "effect"
import { PolicyView } from "./ports"

export const PolicyViewFromActivePolicy = Layer.effect(
  PolicyView,
  Effect.map(ActivePolicy, (active) => ({
    current: Effect.map(
      active.current,
      Option.match({
        onNone: () => undefined,
        onSome: (bundle) => ({
          serial: bundle.serial,
          lookup: bundle.lookup,
          dsnLanguages: bundle.payload.policy.defaults.dsn.languages,
        }),
      }),
    ),
  })),
)

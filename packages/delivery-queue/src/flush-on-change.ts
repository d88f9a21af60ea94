/**
 * A targeted flush when policy changes: after a newly activated bundle changes a partner's
 * policy (a new pin, a fixed CA, another route…), that partner's waiting mail is promoted, so a
 * fix helps queued mail at once instead of at each message's next timeline point. Partners that
 * did not change are left alone (no thundering herd on every publish). The partner's destination
 * breakers (`PartnerBreakers`) are closed first: a breaker opened by the very failures the new policy fixes would
 * otherwise defer the promoted mail again until its cooldown ends.
 */
import { type Partner, type PolicySet, PolicyView } from "@mailconnect/policy"
import { Effect, Layer, Stream } from "effect"
import { QueueAdmin } from "./admin"
import { PartnerBreakers } from "./ports"

const same = (a: Partner | undefined, b: Partner | undefined): boolean =>
  JSON.stringify(a) === JSON.stringify(b)

/** Names of partners added, removed or changed between two policy sets (new ones included). */
export const changedPartners = (before: PolicySet, after: PolicySet): ReadonlyArray<string> => {
  const names = new Set([...Object.keys(before.partners), ...Object.keys(after.partners)])
  return [...names].filter((name) => !same(before.partners[name], after.partners[name])).sort()
}

export const FlushOnPolicyChange = Layer.scopedDiscard(
  Effect.gen(function* () {
    const view = yield* PolicyView
    const queue = yield* QueueAdmin
    const breakers = yield* PartnerBreakers
    const onActivation = view.activations.pipe(
      Stream.runForEach(({ previous, next }) =>
        Effect.gen(function* () {
          if (previous === undefined) return
          const partners = changedPartners(previous.policy, next.policy)
          for (const partner of partners) {
            if (!next.policy.partners[partner]) continue
            const breakersReset = yield* breakers.resetPartner(partner)
            const promoted = yield* queue.flush({ partner })
            yield* Effect.logInfo("policy change: waiting mail promoted").pipe(
              Effect.annotateLogs({ partner, promoted, breakersReset, serial: next.serial }),
            )
          }
        }).pipe(Effect.catchAll((error) => Effect.logWarning("flush after policy change failed", error))),
      ),
    )
    yield* Effect.forkScoped(onActivation)
  }),
)

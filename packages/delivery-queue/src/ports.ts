/**
 * What the delivery worker needs from the rest of the relay, as services it can be given:
 * the active policy (hot-loaded bundle) and an SMTP deliverer (the outbound adapter). The relay
 * app binds them to `policy-store` and `smtp-outbound`; tests bind them to the same real parts.
 */
import type { FailureCode } from "@mailconnect/failure-codes"
import {
  type EffectivePolicy,
  type LookupIndex,
  makeLookup,
  type PolicyLookup,
  type PolicySet,
} from "@mailconnect/policy"
import { Context, Data, Effect, Layer } from "effect"

export interface ActivePolicyView {
  readonly serial: number
  readonly lookup: PolicyLookup
  /** DSN languages from the policy defaults, in order (e.g. ["de", "en"]). */
  readonly dsnLanguages: ReadonlyArray<string>
}

export class PolicyView extends Context.Tag("@mailconnect/delivery-queue/PolicyView")<
  PolicyView,
  {
    /** The bundle active right now; undefined before the first bundle is loaded. */
    readonly current: Effect.Effect<ActivePolicyView | undefined>
  }
>() {
  /** A policy that never changes: for tools and tests that do not hot-load bundles. */
  static fixed = (policy: PolicySet, index: LookupIndex, serial = 1) =>
    Layer.succeed(PolicyView, {
      current: Effect.succeed({
        serial,
        lookup: makeLookup(policy, index),
        dsnLanguages: policy.defaults.dsn.languages,
      }),
    })
}

/** Where and how to deliver one job, decided from the policy at delivery time. */
export interface Route {
  /** The effective policy for the recipient domain (for a local domain: its internal next hop). */
  readonly policy: EffectivePolicy
  /** A customer domain of ours: delivered to its internal next hop. */
  readonly local: boolean
}

export interface DeliveryRequest {
  readonly messageId: string
  readonly sender: string
  readonly recipients: ReadonlyArray<string>
  readonly body: Buffer
  readonly route: Route
  readonly serial: number
}

export interface RecipientReply {
  readonly recipient: string
  readonly accepted: boolean
  /** true for a 5xx reply. */
  readonly permanent: boolean
  /** Enhanced status, from the reply or derived from its code. */
  readonly status: string
  readonly reply: string
}

export interface DeliveryReport {
  readonly server: string
  readonly recipients: ReadonlyArray<RecipientReply>
  /** One-line TLS evidence summary for the job log. */
  readonly tls?: string
}

/** No recipient got a reply: the session failed before RCPT (or the server refused DATA). */
export class DeliveryFailed extends Data.TaggedError("DeliveryFailed")<{
  readonly code: FailureCode
  readonly retry: "defer" | "bounce"
  readonly status: string
  readonly server?: string
  readonly reply?: string
  readonly detail?: string
  readonly tls?: string
}> {}

export class Deliverer extends Context.Tag("@mailconnect/delivery-queue/Deliverer")<
  Deliverer,
  { readonly deliver: (request: DeliveryRequest) => Effect.Effect<DeliveryReport, DeliveryFailed> }
>() {}

/**
 * Circuit breakers kept outside this package (the outbound adapter's destinations), closed for a
 * partner when its policy changes, before the targeted flush. Optional: without a binding only
 * the breakers of `DestinationActors` are reset. The relay binds it in `apps/relay/src/layers`.
 */
export class PartnerBreakers extends Context.Tag("@mailconnect/delivery-queue/PartnerBreakers")<
  PartnerBreakers,
  { readonly resetPartner: (partner: string) => Effect.Effect<ReadonlyArray<string>> }
>() {}

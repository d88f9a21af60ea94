/**
 * What the delivery worker needs from the rest of the relay, as ports it can be given: an SMTP
 * deliverer and the breakers of its destinations (the outbound adapter), and optionally the
 * fleet-wide throttle of partners' delivery limits. The policy comes
 * through `@mailconnect/policy`'s `PolicyView`. The relay app binds them in
 * `apps/relay/src/layers`; tests bind them to the same real parts.
 */
import { FAILURE_CAUSES, type FailureCode, type FailureReason } from "@mailconnect/failure-codes"
import type { DeliveryLimits, EffectivePolicy } from "@mailconnect/policy"
import { Context, Data, type Effect, type Scope } from "effect"
import type { TlsRecord } from "./tls-record"

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
  /** RFC 8689 REQUIRETLS: only authenticated hops that advertise REQUIRETLS may carry it. */
  readonly requireTls?: boolean
  /** `TLS-Required: No`: the recipient's DANE/MTA-STS policies are not enforced. */
  readonly tlsRequiredNo?: boolean
  /** An RFC 8460 TLS report of ours: its sessions are not counted in the next report. */
  readonly tlsReport?: boolean
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

/** Who authenticated the hop of the last attempt: the partner policy, DANE, MTA-STS, or none. */
export type PolicySource = "partner" | "dane" | "mta-sts" | "none"

export interface DeliveryReport {
  readonly server: string
  /** Absent when no session was attempted. */
  readonly source?: PolicySource
  readonly recipients: ReadonlyArray<RecipientReply>
  /** The session's TLS evidence; `null` without TLS; absent when no session was opened. */
  readonly tls?: TlsRecord | null
}

/**
 * No recipient got a reply: the session failed before RCPT (or the server refused DATA). The
 * cause's code, its structured `reason` (a pin diagnosis, the names expected and presented, an
 * open circuit breaker) and the attempt's TLS evidence, as data; the retry class is the catalog's.
 */
export class DeliveryFailed extends Data.TaggedError("DeliveryFailed")<{
  readonly code: FailureCode
  /** Enhanced status: the catalog's, or the server's own for a refused DATA. */
  readonly status: string
  readonly server?: string
  readonly reply?: string
  /** The server's or library's own words. */
  readonly detail?: string
  readonly reason?: FailureReason
  readonly tls?: TlsRecord | null
  readonly source?: PolicySource
}> {
  /** defer: retried on the timeline; bounce: fails the recipients now. A breaker always defers. */
  get retry(): "defer" | "bounce" {
    return this.reason?._tag === "CircuitOpen" || FAILURE_CAUSES[this.code].retry !== "bounce"
      ? "defer"
      : "bounce"
  }
}

export class Deliverer extends Context.Tag("@mailconnect/delivery-queue/Deliverer")<
  Deliverer,
  { readonly deliver: (request: DeliveryRequest) => Effect.Effect<DeliveryReport, DeliveryFailed> }
>() {}

/**
 * The circuit breakers of the destinations a partner's mail used (the outbound adapter's),
 * closed when the partner's policy changes, before the targeted flush.
 */
export class PartnerBreakers extends Context.Tag("@mailconnect/delivery-queue/PartnerBreakers")<
  PartnerBreakers,
  { readonly resetPartner: (partner: string) => Effect.Effect<ReadonlyArray<string>> }
>() {}

/** Which of a partner's limits held a delivery back. */
export type ThrottledLimit = keyof DeliveryLimits

export type Admission =
  | { readonly _tag: "Admitted" }
  | {
      readonly _tag: "Throttled"
      readonly limit: ThrottledLimit
      /** Ask again after this long: relative, so a relay whose clock is skewed still waits the right time. */
      readonly retryAfterMs: number
    }

/** The throttle's store (Redis) did not answer: the limit cannot be checked, so it counts as reached. */
export class ThrottleUnavailable extends Data.TaggedError("ThrottleUnavailable")<{
  readonly partner: string
  readonly detail: string
}> {}

/**
 * Partners' delivery limits, counted fleet-wide (every relay's workers together). Optional: a
 * worker without it delivers unthrottled. The relay binds it in `apps/relay/src/layers/rate-limits.ts`.
 */
export class DeliveryThrottle extends Context.Tag("@mailconnect/delivery-queue/DeliveryThrottle")<
  DeliveryThrottle,
  {
    /**
     * Asks to send one message to `partner` now. Admitted: the message is counted in the partner's
     * rate window and, under a connections limit, a session slot is held for `holder` (a lease that
     * is renewed while the scope is open, released when it closes, and expires by itself if the
     * relay dies). Throttled: nothing is taken.
     */
    readonly admit: (request: {
      readonly partner: string
      readonly limits: DeliveryLimits
      readonly holder: string
    }) => Effect.Effect<Admission, ThrottleUnavailable, Scope.Scope>
  }
>() {}

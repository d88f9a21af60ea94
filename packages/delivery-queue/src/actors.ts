/**
 * Destination actors: one per next hop in this process, each owning a concurrency limit and a
 * circuit breaker. After `threshold` consecutive connect/TLS failures the breaker opens: jobs
 * for that destination are deferred to their next timeline point without connecting, until the
 * cooldown has passed; then one attempt probes, and success closes the breaker again.
 * A new policy for a partner (`resetPartner`, from the targeted flush) closes the breakers of the
 * destinations that partner's mail used: the fix is tried at once, not after the cooldown.
 * (The verified-connection cache lives in the outbound adapter, keyed the same way.)
 */
import { FAILURE_CODES, type FailureCode } from "@mailconnect/failure-codes"
import { Clock, Context, Effect, Layer } from "effect"
import { DeliveryFailed, type Route } from "./ports"

export interface ActorsConfig {
  readonly perDestination: number
  readonly breakerThreshold: number
  readonly breakerCooldownMs: number
}

export const defaultActorsConfig: ActorsConfig = {
  perDestination: 10,
  breakerThreshold: 5,
  breakerCooldownMs: 60_000,
}

/** Failures that say "this destination is unusable right now", as opposed to one message's fate. */
const BREAKER_CODES: ReadonlySet<FailureCode> = new Set(
  FAILURE_CODES.filter(
    (code) => code !== "SMTP_TRANSIENT" && code !== "SMTP_PERMANENT" && code !== "EXPIRED",
  ),
)

export interface ActorState {
  readonly key: string
  readonly inFlight: number
  readonly consecutiveFailures: number
  readonly openUntil: number | undefined
  readonly lastFailure: FailureCode | undefined
}

interface Actor {
  readonly semaphore: Effect.Semaphore
  inFlight: number
  consecutiveFailures: number
  openUntil: number | undefined
  last: DeliveryFailed | undefined
  /** Partners whose mail went to this destination (the breaker resets when one's policy changes). */
  readonly partners: Set<string>
}

export const destinationKey = (route: Route): string => {
  const servers = route.policy.servers
  return servers && servers.length > 0
    ? servers.map((s: { host: string; port: number }) => `${s.host}:${s.port}`).join(",")
    : `mx:${route.policy.domain}`
}

export class DestinationActors extends Context.Tag("@mailconnect/DestinationActors")<
  DestinationActors,
  {
    readonly run: <A>(
      key: string,
      attempt: Effect.Effect<A, DeliveryFailed>,
      partner?: string,
    ) => Effect.Effect<A, DeliveryFailed>
    /** Closes the breakers of the destinations `partner`'s mail used; returns their keys. */
    readonly resetPartner: (partner: string) => Effect.Effect<ReadonlyArray<string>>
    readonly states: Effect.Effect<ReadonlyArray<ActorState>>
  }
>() {
  static layer = (config: ActorsConfig = defaultActorsConfig) =>
    Layer.sync(DestinationActors, () => {
      const actors = new Map<string, Actor>()
      const actorFor = (key: string): Actor => {
        let actor = actors.get(key)
        if (!actor) {
          actor = {
            semaphore: Effect.unsafeMakeSemaphore(config.perDestination),
            inFlight: 0,
            consecutiveFailures: 0,
            openUntil: undefined,
            last: undefined,
            partners: new Set(),
          }
          actors.set(key, actor)
        }
        return actor
      }
      const run = <A>(key: string, attempt: Effect.Effect<A, DeliveryFailed>, partner?: string) =>
        Effect.gen(function* () {
          const actor = actorFor(key)
          if (partner !== undefined) actor.partners.add(partner)
          const now = yield* Clock.currentTimeMillis
          if (actor.openUntil !== undefined && now < actor.openUntil && actor.last) {
            return yield* new DeliveryFailed({
              ...actor.last,
              detail: `circuit open until ${new Date(actor.openUntil).toISOString()} after ${actor.consecutiveFailures} consecutive failures; last: ${actor.last.detail ?? actor.last.code}`,
            })
          }
          actor.inFlight++
          const result = yield* actor.semaphore
            .withPermits(1)(attempt)
            .pipe(Effect.ensuring(Effect.sync(() => actor.inFlight--)), Effect.either)
          const after = yield* Clock.currentTimeMillis
          if (result._tag === "Right") {
            actor.consecutiveFailures = 0
            actor.openUntil = undefined
            return result.right
          }
          if (BREAKER_CODES.has(result.left.code)) {
            actor.consecutiveFailures++
            actor.last = result.left
            if (actor.consecutiveFailures >= config.breakerThreshold)
              actor.openUntil = after + config.breakerCooldownMs
          }
          return yield* result.left
        })
      const states = Effect.sync(() =>
        [...actors].map(([key, a]) => ({
          key,
          inFlight: a.inFlight,
          consecutiveFailures: a.consecutiveFailures,
          openUntil: a.openUntil,
          lastFailure: a.last?.code,
        })),
      )
      const resetPartner = (partner: string) =>
        Effect.sync(() => {
          const reset: Array<string> = []
          for (const [key, actor] of actors) {
            if (!actor.partners.has(partner)) continue
            actor.consecutiveFailures = 0
            actor.openUntil = undefined
            actor.last = undefined
            reset.push(key)
          }
          return reset
        })
      return { run, resetPartner, states }
    })
}

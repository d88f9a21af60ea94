/**
 * The worker's side of partners' delivery limits: before an attempt to a partner with limits, ask
 * the `DeliveryThrottle` (if the relay has one). Held back, the job is only moved to delayed:
 * its data, its attempt count, its retry timeline and the destination breakers are untouched, so
 * a throttled message is late but never "failed". A limit that cannot be checked counts as reached
 * (the store that would count it is the queue's own Redis, so the job could not go far anyway).
 */
import type { Job } from "bullmq"
import { Effect, Either, type Scope } from "effect"
import * as metrics from "./metrics"
import type { Admission, DeliveryThrottle, Route, ThrottleUnavailable } from "./ports"

type Throttle = DeliveryThrottle["Type"]

const describeLimit = (limit: string, route: Route): string => {
  const limits = route.policy.partner?.limits
  if (limit !== "connections") return `${limits?.messagesPerMinute}/min`
  return `${limits?.connections} connection${limits?.connections === 1 ? "" : "s"}`
}

/** Why and until when a delivery waits; `undefined` when it was admitted. */
const heldFor = (
  partner: string,
  admission: Either.Either<Admission, ThrottleUnavailable>,
  route: Route,
  now: number,
  unavailableWaitMs: number,
): { readonly limit: string; readonly at: number; readonly line: string } | undefined => {
  if (Either.isLeft(admission))
    return {
      limit: "unavailable",
      at: now + unavailableWaitMs,
      line: `limits of ${partner} cannot be checked (${admission.left.detail})`,
    }
  const decided = admission.right
  if (decided._tag === "Admitted") return undefined
  return {
    limit: decided.limit,
    at: now + decided.retryAfterMs,
    line: `throttled: ${partner} at ${describeLimit(decided.limit, route)}`,
  }
}

/** Whether the throttle has a say in a delivery on `route`: a partner with limits, a throttle. */
export const isLimited = (throttle: Throttle | undefined, route: Route): boolean =>
  throttle !== undefined && !route.local && route.policy.partner?.limits !== undefined

/**
 * `undefined`: go ahead (whatever the throttle holds for this delivery is held until the scope
 * closes). A number: the time (this relay's clock) to move the job to, having logged why.
 */
export const holdBack = (
  throttle: Throttle | undefined,
  job: Job,
  route: Route,
  now: number,
  unavailableWaitMs: number,
): Effect.Effect<number | undefined, never, Scope.Scope> =>
  Effect.gen(function* () {
    const partner = route.local ? undefined : route.policy.partner
    if (!throttle || !partner?.limits) return undefined
    const admission = yield* throttle
      .admit({ partner: partner.name, limits: partner.limits, holder: job.id ?? "" })
      .pipe(Effect.either)
    const held = heldFor(partner.name, admission, route, now, unavailableWaitMs)
    if (!held) return undefined
    const { limit, at, line } = held
    yield* metrics.recordThrottled(partner.name, limit)
    yield* Effect.promise(() =>
      job
        .log(`${new Date(now).toISOString()} | ${line}, next at ${new Date(at).toISOString()}`)
        .catch(() => undefined),
    )
    return at
  })

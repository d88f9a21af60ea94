/**
 * Answers kept for their TTL (capped), so a busy relay does not ask its resolver for the same MX,
 * addresses and TLSA records on every delivery. Only answers are kept — never a failure: a bogus
 * or missing answer is asked again next time. Time is the Effect `Clock`.
 */
import { Clock, Effect } from "effect"

export interface AnswerCache {
  readonly through: <A extends { readonly ttl: number }, E>(
    key: string,
    lookup: Effect.Effect<A, E>,
  ) => Effect.Effect<A, E>
}

export const makeAnswerCache = (maxTtlSeconds: number, maxEntries = 10_000): AnswerCache => {
  const entries = new Map<string, { readonly answer: unknown; readonly until: number }>()
  return {
    through: (key, lookup) =>
      maxTtlSeconds <= 0
        ? lookup
        : Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            const hit = entries.get(key)
            if (hit && hit.until > now) return hit.answer as Effect.Effect.Success<typeof lookup>
            const answer = yield* lookup
            if (entries.size >= maxEntries) entries.clear()
            const ttl = Math.min(answer.ttl, maxTtlSeconds)
            if (ttl > 0) entries.set(key, { answer, until: now + ttl * 1000 })
            return answer
          }),
  }
}

/**
 * Per-partner delivery statistics for the dashboard's TLS health page: hourly buckets of
 * deliveries, deferrals and bounces by failure code (kept 26 hours), and the last attempt's TLS
 * evidence summary per partner (kept 7 days). Written best-effort by the workers — a statistics
 * write never fails a delivery — and read by the dashboard.
 *
 * Keys: `{mc}:stats:h:<partner>:<hour>` hash (`delivered`, `deferred:<CODE>`, `bounced:<CODE>`),
 * `{mc}:stats:last:<partner>` JSON, `{mc}:stats:partners` set of partner names seen.
 * Mail to domains without an agreement is counted under the partner name `-`.
 */
import type { FailureCode } from "@mailconnect/failure-codes"
import type { RedisConnection, RedisKeys } from "@mailconnect/redis-client"
import { Effect } from "effect"
import { QueueUnavailable } from "./errors"

const HOUR = 3_600_000
const BUCKET_TTL_S = 26 * 3600
const LAST_TTL_S = 7 * 86_400

export interface DeliveryRecord {
  readonly partner: string
  readonly at: number
  readonly delivered: number
  readonly deferred: number
  readonly bounced: number
  readonly code: FailureCode | undefined
  readonly server: string | undefined
  readonly tls: string | undefined
}

export interface PartnerHealth {
  readonly partner: string
  readonly delivered: number
  readonly deferred: Readonly<Record<string, number>>
  readonly bounced: Readonly<Record<string, number>>
  readonly last: DeliveryRecord | undefined
}

export interface DeliveryStats {
  readonly record: (record: DeliveryRecord) => Effect.Effect<void>
  /** The last 24 hours (24 full hour buckets plus the current one) for every partner seen. */
  readonly health: (now: number) => Effect.Effect<ReadonlyArray<PartnerHealth>, QueueUnavailable>
}

const unavailable = (e: unknown) =>
  new QueueUnavailable({ operation: "stats", detail: e instanceof Error ? e.message : String(e) })

export const makeDeliveryStats = (redis: RedisConnection, keys: RedisKeys): DeliveryStats => {
  const bucket = (partner: string, hour: number) => keys.key("stats", "h", partner, String(hour))
  const last = (partner: string) => keys.key("stats", "last", partner)
  const partners = keys.key("stats", "partners")
  return {
    record: (r) =>
      Effect.tryPromise(() => {
        const key = bucket(r.partner, Math.floor(r.at / HOUR))
        const multi = redis.multi()
        if (r.delivered > 0) multi.hincrby(key, "delivered", r.delivered)
        if (r.deferred > 0) multi.hincrby(key, `deferred:${r.code ?? "SMTP_TRANSIENT"}`, r.deferred)
        if (r.bounced > 0) multi.hincrby(key, `bounced:${r.code ?? "SMTP_PERMANENT"}`, r.bounced)
        multi.expire(key, BUCKET_TTL_S)
        multi.set(last(r.partner), JSON.stringify(r), "EX", LAST_TTL_S)
        multi.sadd(partners, r.partner)
        return multi.exec()
      }).pipe(Effect.ignore),
    health: (now) =>
      Effect.gen(function* () {
        const names = yield* Effect.tryPromise({ try: () => redis.smembers(partners), catch: unavailable })
        const current = Math.floor(now / HOUR)
        return yield* Effect.forEach(names.sort(), (partner) =>
          Effect.tryPromise({
            try: async () => {
              const hours = Array.from({ length: 25 }, (_, i) => bucket(partner, current - i))
              const pipeline = redis.pipeline()
              for (const key of hours) pipeline.hgetall(key)
              pipeline.get(last(partner))
              const replies = (await pipeline.exec()) ?? []
              const deferred: Record<string, number> = {}
              const bounced: Record<string, number> = {}
              let delivered = 0
              for (const [, value] of replies.slice(0, hours.length)) {
                for (const [field, count] of Object.entries((value ?? {}) as Record<string, string>)) {
                  const n = Number(count)
                  if (field === "delivered") delivered += n
                  else if (field.startsWith("deferred:"))
                    deferred[field.slice(9)] = (deferred[field.slice(9)] ?? 0) + n
                  else if (field.startsWith("bounced:"))
                    bounced[field.slice(8)] = (bounced[field.slice(8)] ?? 0) + n
                }
              }
              const lastText = replies.at(-1)?.[1] as string | null | undefined
              return {
                partner,
                delivered,
                deferred,
                bounced,
                last: lastText ? (JSON.parse(lastText) as DeliveryRecord) : undefined,
              }
            },
            catch: unavailable,
          }),
        )
      }),
  }
}

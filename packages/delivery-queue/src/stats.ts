/**
 * `DeliveryStats`: per-partner delivery statistics, a read model for the dashboard's TLS health
 * page: hourly buckets of deliveries, deferrals and bounces by failure code (kept 26 hours), and
 * the last attempt's TLS evidence summary per partner (kept 7 days). Written best-effort by the workers — a statistics
 * write never fails a delivery — and read by the dashboard.
 *
 * Keys: `{mc}:stats:h:<partner>:<hour>` hash (`delivered`, `deferred:<CODE>`, `bounced:<CODE>`),
 * `{mc}:stats:last:<partner>` JSON, `{mc}:stats:partners` set of partner names seen.
 * Mail to domains without an agreement is counted under the partner name `-`.
 */
import type { FailureCode } from "@mailconnect/failure-codes"
import { RedisClient, type RedisCommandError } from "@mailconnect/redis-client"
import { Context, Effect, Layer } from "effect"
import { QueueUnavailable } from "./errors"
import { failFast } from "./spool"

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

export interface DeliveryStatsShape {
  readonly record: (record: DeliveryRecord) => Effect.Effect<void>
  /** The last 24 hours (24 full hour buckets plus the current one) for every partner seen. */
  readonly health: (now: number) => Effect.Effect<ReadonlyArray<PartnerHealth>, QueueUnavailable>
}

const unavailable = (e: RedisCommandError) => new QueueUnavailable({ operation: "stats", detail: e.detail })

/** Sums an hour's counters into the running totals. */
const addBucket = (
  totals: { delivered: number; deferred: Record<string, number>; bounced: Record<string, number> },
  bucket: Readonly<Record<string, string>>,
) => {
  for (const [field, count] of Object.entries(bucket)) {
    const n = Number(count)
    if (field === "delivered") totals.delivered += n
    else if (field.startsWith("deferred:"))
      totals.deferred[field.slice(9)] = (totals.deferred[field.slice(9)] ?? 0) + n
    else if (field.startsWith("bounced:"))
      totals.bounced[field.slice(8)] = (totals.bounced[field.slice(8)] ?? 0) + n
  }
}

/** HGETALL replies come as flat [field, value, …] arrays through `batch`. */
const hashOf = (reply: unknown): Record<string, string> => {
  const flat = (reply ?? []) as ReadonlyArray<string>
  const hash: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!
  return hash
}

export const makeDeliveryStats = (redis: RedisClient["Type"]): DeliveryStatsShape => {
  const bucket = (partner: string, hour: number) => redis.keys.key("stats", "h", partner, String(hour))
  const last = (partner: string) => redis.keys.key("stats", "last", partner)
  const partners = redis.keys.key("stats", "partners")
  const partnerHealth = (partner: string, current: number) => {
    const hours = Array.from({ length: 25 }, (_, i) => bucket(partner, current - i))
    return redis
      .batch([...hours.map((key) => ["HGETALL", key] as const), ["GET", last(partner)] as const])
      .pipe(
        Effect.map((replies): PartnerHealth => {
          const totals = { delivered: 0, deferred: {}, bounced: {} }
          for (const reply of replies.slice(0, hours.length)) addBucket(totals, hashOf(reply))
          const lastText = replies.at(-1) as string | null | undefined
          return { partner, ...totals, last: lastText ? (JSON.parse(lastText) as DeliveryRecord) : undefined }
        }),
      )
  }
  return {
    record: (r) => {
      const key = bucket(r.partner, Math.floor(r.at / HOUR))
      return redis
        .batch(
          [
            ...(r.delivered > 0 ? [["HINCRBY", key, "delivered", r.delivered] as const] : []),
            ...(r.deferred > 0
              ? [["HINCRBY", key, `deferred:${r.code ?? "SMTP_TRANSIENT"}`, r.deferred] as const]
              : []),
            ...(r.bounced > 0
              ? [["HINCRBY", key, `bounced:${r.code ?? "SMTP_PERMANENT"}`, r.bounced] as const]
              : []),
            ["EXPIRE", key, BUCKET_TTL_S],
            ["SET", last(r.partner), JSON.stringify(r), "EX", LAST_TTL_S],
            ["SADD", partners, r.partner],
          ],
          { atomic: true },
        )
        .pipe(Effect.ignore)
    },
    health: (now) =>
      redis.smembers(partners).pipe(
        Effect.flatMap((names) =>
          Effect.forEach([...names].sort(), (partner) => partnerHealth(partner, Math.floor(now / HOUR))),
        ),
        Effect.mapError(unavailable),
      ),
  }
}

export class DeliveryStats extends Context.Tag("@mailconnect/DeliveryStats")<
  DeliveryStats,
  DeliveryStatsShape
>() {
  static layer = Layer.scoped(
    DeliveryStats,
    Effect.map(RedisClient.connect({ purpose: "stats", ...failFast }), makeDeliveryStats),
  )
}

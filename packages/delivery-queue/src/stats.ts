/**
 * `DeliveryStats`: delivery statistics, a read model for the dashboard's TLS health page.
 * Per partner: hourly buckets of deliveries, deferrals and bounces by failure code (kept 26
 * hours), and the last attempt's TLS evidence summary (kept 7 days). Fleet-wide: hourly buckets
 * of recipients per policy source (who authenticated the hop) and result, and the last failure
 * of each domain whose DANE or MTA-STS authentication failed (the last 200 domains, kept 7 days
 * after the latest). Written best-effort by the workers, one script per outcome (`RECORD`) — a statistics
 * write never fails a delivery — run inside the attempt's job-record script (`recordCall`,
 * `job-record.ts`: no round trip of its own), and read by the dashboard.
 *
 * Sharded like the queue (`layout.ts`): an outcome is written under the tag of its job's shard, so
 * on a Cluster every master carries the statistics of its own mail (they were all on shard 0's
 * master: 38–41 % of the fleet's commands on one of three). A read asks every shard, one pipeline
 * each, and sums the counters, keeps the newest last record and failure, and merges the
 * certificate watch's entries (`mergeWatched`). Shard 0's tag is the fleet's own, where a fleet
 * from before kept everything: its figures stay readable.
 *
 * Keys, per shard tag `{mc}`, `{mc:1}`…: `stats:h:<partner>:<hour>` hash (`delivered`,
 * `deferred:<CODE>`, `bounced:<CODE>`), `stats:last:<partner>` JSON, `stats:partners` set of
 * partner names seen; `stats:sources:<hour>` hash (`<source>:delivered|deferred|bounced`),
 * `stats:auth-failed` sorted set (domain by time of its last failure, ms) with
 * `stats:auth-failed:last` hash (domain → JSON code, at, server, source); the certificate watch's
 * `watch:cert:<partner>|<server>` and `watch:certs`. Fleet-wide (`{mc}` only): the route checks,
 * `watch:route:<partner>` and `watch:routes`. Mail to domains without an agreement is counted
 * under the partner name `-`.
 */
import type { FailureCode } from "@mailconnect/failure-codes"
import { type LuaScript, RedisClient, type RedisCommandError } from "@mailconnect/redis-client"
import { Context, Effect, Layer, Option, Schema } from "effect"
import {
  mergeWatched,
  type ObservedCertificate,
  WATCH_LUA,
  WATCH_TTL_S,
  type WatchedCertificate,
  watchedFrom,
} from "./cert-watch"
import { QueueUnavailable } from "./errors"
import { FailureCodeSchema } from "./failure-code"
import { QueueLayout, type QueueLayoutShape } from "./layout"
import type { PolicySource } from "./ports"
import { RouteCheck } from "./route-check"
import { failFast } from "./spool"

const HOUR = 3_600_000
const BUCKET_TTL_S = 26 * 3600
const LAST_TTL_S = 7 * 86_400
/** The hour buckets a read sums: the last 24 full hours and the current one. */
const HOURS = 25
/** How many domains the authentication-failure list keeps (the most recent). */
export const AUTH_FAILED_KEEP = 200

export const POLICY_SOURCES: ReadonlyArray<PolicySource> = ["partner", "dane", "mta-sts", "none"]
/** Failures that are the standards' own verdicts, whatever the hop's source was recorded as. */
const AUTH_FAILURE_CODES: ReadonlySet<FailureCode> = new Set([
  "DANE_TLSA_MISMATCH",
  "DNSSEC_BOGUS",
  "MTA_STS_MX_MISMATCH",
])

export interface DeliveryRecord {
  readonly partner: string
  /** The recipient domain of the job. */
  readonly domain: string
  /** Who authenticated the hop; undefined when no session was attempted. */
  readonly source: PolicySource | undefined
  readonly at: number
  readonly delivered: number
  readonly deferred: number
  readonly bounced: number
  readonly code: FailureCode | undefined
  readonly server: string | undefined
  readonly tls: string | undefined
  /** The certificate the server presented (the certificate watch, `cert-watch.ts`). */
  readonly peer?: ObservedCertificate
}

export interface PartnerHealth {
  readonly partner: string
  readonly delivered: number
  readonly deferred: Readonly<Record<string, number>>
  readonly bounced: Readonly<Record<string, number>>
  readonly last: DeliveryRecord | undefined
}

export interface SourceCounts {
  readonly delivered: number
  readonly deferred: number
  readonly bounced: number
}

/** The last failure of a domain whose DANE or MTA-STS authentication failed. */
export const AuthFailure = Schema.Struct({
  domain: Schema.String,
  code: FailureCodeSchema,
  at: Schema.Number,
  server: Schema.optional(Schema.String),
  source: Schema.optional(Schema.Literal("partner", "dane", "mta-sts", "none")),
})
export type AuthFailure = typeof AuthFailure.Type

export interface PolicySourceHealth {
  /** Recipients per policy source and result, over the same window as `health`. */
  readonly counts: Readonly<Record<PolicySource, SourceCounts>>
  /** Newest first, at most `AUTH_FAILED_KEEP`. */
  readonly authFailures: ReadonlyArray<AuthFailure>
}

/** One outcome's statistics as a call of `RECORD`, for a caller that runs it with its own script. */
export interface StatsCall {
  readonly script: LuaScript
  readonly keys: ReadonlyArray<string>
  readonly args: ReadonlyArray<string | number>
}

export interface DeliveryStatsShape {
  /** Under the tag of `shard`: the shard of the job whose outcome it is. */
  readonly record: (record: DeliveryRecord, shard: number) => Effect.Effect<void>
  /**
   * What `record` runs, without running it: the worker runs it in the same call as the attempt's
   * job record (`job-record.ts`), keys and job in the same shard.
   */
  readonly recordCall: (record: DeliveryRecord, shard: number) => StatsCall
  /** The last 24 hours (24 full hour buckets plus the current one) for every partner seen. */
  readonly health: (now: number) => Effect.Effect<ReadonlyArray<PartnerHealth>, QueueUnavailable>
  /** Every partner server's last certificate, and its last change (the certificate watch). */
  readonly certificates: Effect.Effect<ReadonlyArray<WatchedCertificate>, QueueUnavailable>
  /** Keeps the last route check of a partner (`route-check.ts`), 7 days. */
  readonly recordRoute: (partner: string, check: RouteCheck) => Effect.Effect<void, QueueUnavailable>
  /** The last route check of one partner, if it found a mismatch; never fails (best effort). */
  readonly routeMismatchOf: (partner: string) => Effect.Effect<RouteCheck | undefined>
  /** The last route check of every partner checked, by partner name. */
  readonly routes: Effect.Effect<Readonly<Record<string, RouteCheck>>, QueueUnavailable>
  /** Fleet-wide: the last 24 hours per policy source, and the domains whose authentication failed. */
  readonly policySources: (now: number) => Effect.Effect<PolicySourceHealth, QueueUnavailable>
}

/**
 * Keeps a domain's newest failure (an older one written late by another worker does not replace
 * it), then trims the set and the hash together to the newest ARGV[4] domains.
 * KEYS: sorted set, hash. ARGV: domain, at, JSON, keep, ttl seconds.
 */
const AUTH_FAILED_LUA = `
local prev = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not prev or tonumber(prev) <= tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
end
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if over > 0 then
  local old = redis.call('ZRANGE', KEYS[1], 0, over - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
  redis.call('HDEL', KEYS[2], unpack(old))
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return 1
`

/**
 * One outcome's statistics in one script (one round trip, one command for Redis to dispatch,
 * atomic as the MULTI it replaces was): the partner's hour bucket and its expiry, the partner's
 * last record, the set of partners, the fleet-wide policy-source bucket, then — when the outcome
 * has them — the certificate watch (`WATCH_LUA`) and the list of authentication failures
 * (`AUTH_FAILED_LUA`), each run as a function of its own KEYS and ARGV.
 * KEYS: partner bucket, last, partners, source bucket, watch entry, watched set, auth-failed
 * sorted set, auth-failed hash (all under one shard's tag; an unused one is never touched).
 * ARGV: partner, bucket ttl, last JSON, last ttl, n, n × (field, count) of the partner bucket,
 * m, m × (field, count) of the source bucket, '1' + the watch's 7 arguments or '0', '1' + the
 * auth-failed list's 5 arguments or '0'.
 */
export const RECORD: LuaScript = {
  name: "mcStatsRecord",
  numberOfKeys: 8,
  lua: `
local function watch(KEYS, ARGV)
${WATCH_LUA}
end
local function authFailed(KEYS, ARGV)
${AUTH_FAILED_LUA}
end
local i = 1
local function take()
  i = i + 1
  return ARGV[i - 1]
end
local function counts(key)
  local n = tonumber(take())
  for _ = 1, n do
    local field = take()
    redis.call('HINCRBY', key, field, take())
  end
  return n
end
local partner, bucketTtl, last, lastTtl = take(), take(), take(), take()
counts(KEYS[1])
redis.call('EXPIRE', KEYS[1], bucketTtl)
redis.call('SET', KEYS[2], last, 'EX', lastTtl)
redis.call('SADD', KEYS[3], partner)
if counts(KEYS[4]) > 0 then redis.call('EXPIRE', KEYS[4], bucketTtl) end
if take() == '1' then
  watch({ KEYS[5], KEYS[6] }, { unpack(ARGV, i, i + 6) })
  i = i + 7
end
if take() == '1' then
  authFailed({ KEYS[7], KEYS[8] }, { unpack(ARGV, i, i + 4) })
  i = i + 5
end
return 1
`,
}

/** A failed outcome that the list of authentication failures keeps: its entry, else none. */
export const authFailureOf = (r: DeliveryRecord): AuthFailure | undefined => {
  if (r.deferred + r.bounced === 0) return undefined
  const code = r.code ?? (r.deferred > 0 ? "SMTP_TRANSIENT" : "SMTP_PERMANENT")
  if (!AUTH_FAILURE_CODES.has(code) && r.source !== "dane" && r.source !== "mta-sts") return undefined
  return {
    domain: r.domain,
    code,
    at: r.at,
    ...(r.server === undefined ? {} : { server: r.server }),
    ...(r.source === undefined ? {} : { source: r.source }),
  }
}

const decodeAuthFailure = Schema.decodeUnknownOption(Schema.parseJson(AuthFailure))
const decodeRoute = Schema.decodeUnknownOption(Schema.parseJson(RouteCheck))

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

/** Sums the hours' `<source>:<result>` counters per source. */
const sourceTotals = (
  buckets: ReadonlyArray<Readonly<Record<string, string>>>,
): Record<PolicySource, SourceCounts> => {
  const totals = Object.fromEntries(
    POLICY_SOURCES.map((s) => [s, { delivered: 0, deferred: 0, bounced: 0 }]),
  ) as Record<PolicySource, { delivered: number; deferred: number; bounced: number }>
  for (const bucket of buckets)
    for (const [field, count] of Object.entries(bucket)) {
      const [source, result] = field.split(":") as [PolicySource, keyof SourceCounts]
      if (totals[source] && result in totals[source]) totals[source][result] += Number(count)
    }
  return totals
}

/** The newest of two last records (by the time of the outcome). */
const newer = (a: DeliveryRecord | undefined, b: DeliveryRecord | undefined) =>
  a === undefined || (b !== undefined && b.at > a.at) ? b : a

/** Every shard's failure list as one: the newest failure per domain, newest first, the last `AUTH_FAILED_KEEP`. */
const mergeAuthFailures = (hashes: ReadonlyArray<Readonly<Record<string, string>>>) => {
  const byDomain = new Map<string, AuthFailure>()
  for (const hash of hashes)
    for (const json of Object.values(hash))
      for (const failure of Option.toArray(decodeAuthFailure(json))) {
        const kept = byDomain.get(failure.domain)
        if (kept === undefined || failure.at > kept.at) byDomain.set(failure.domain, failure)
      }
  return [...byDomain.values()]
    .sort((a, b) => b.at - a.at || (a.domain < b.domain ? -1 : 1))
    .slice(0, AUTH_FAILED_KEEP)
}

export const makeDeliveryStats = (
  redis: RedisClient["Type"],
  layout: Pick<QueueLayoutShape, "all" | "key">,
): DeliveryStatsShape => {
  const bucket = (shard: number, partner: string, hour: number) =>
    layout.key(shard, "stats", "h", partner, String(hour))
  const sourceBucket = (shard: number, hour: number) => layout.key(shard, "stats", "sources", String(hour))
  const authFailed = (shard: number) => layout.key(shard, "stats", "auth-failed")
  const authFailedLast = (shard: number) => layout.key(shard, "stats", "auth-failed", "last")
  const last = (shard: number, partner: string) => layout.key(shard, "stats", "last", partner)
  const partners = (shard: number) => layout.key(shard, "stats", "partners")
  const watched = (shard: number) => layout.key(shard, "watch", "certs")
  const watchEntry = (shard: number, member: string) => layout.key(shard, "watch", "cert", member)
  // Fleet-wide: written by the route checks, not per message.
  const routed = redis.keys.key("watch", "routes")
  /** One read per shard, all at once (each a pipeline within its shard's slot). */
  const everyShard = <A>(read: (shard: number) => Effect.Effect<A, RedisCommandError>) =>
    Effect.forEach(layout.all, read, { concurrency: "unbounded" })
  /** The names in every shard's copy of a set, sorted. */
  const unionOf = (key: (shard: number) => string) =>
    everyShard((shard) => redis.smembers(key(shard))).pipe(
      Effect.map((sets) => [...new Set(sets.flatMap((names) => [...names]))].sort()),
    )
  /** One shard's figures of every partner named: its 25 hour buckets and its last record. */
  const shardHealth = (shard: number, names: ReadonlyArray<string>, current: number) =>
    redis
      .batch(
        names.flatMap((partner) => [
          ...Array.from(
            { length: HOURS },
            (_, i) => ["HGETALL", bucket(shard, partner, current - i)] as const,
          ),
          ["GET", last(shard, partner)] as const,
        ]),
      )
      .pipe(
        Effect.map((replies) =>
          names.map((_, p) => {
            const own = replies.slice(p * (HOURS + 1), (p + 1) * (HOURS + 1))
            const lastText = own.at(-1) as string | null | undefined
            return {
              buckets: own.slice(0, HOURS).map(hashOf),
              last: lastText ? (JSON.parse(lastText) as DeliveryRecord) : undefined,
            }
          }),
        ),
      )
  /** `count` pairs (field, n) of the counters an outcome adds to, with their number first. */
  const countArgs = (pairs: ReadonlyArray<readonly [string, number]>) => {
    const added = pairs.filter(([, n]) => n > 0)
    return [added.length, ...added.flat()]
  }
  const sourceArgs = (r: DeliveryRecord) =>
    countArgs(
      r.source === undefined
        ? []
        : (["delivered", "deferred", "bounced"] as const).map((result) => [
            `${r.source}:${result}`,
            r[result],
          ]),
    )
  const watchMember = (r: DeliveryRecord) =>
    r.peer === undefined || r.server === undefined || r.partner === "-"
      ? undefined
      : `${r.partner}|${r.server}`
  const watchArgs = (r: DeliveryRecord, member: string | undefined) => {
    if (member === undefined || r.peer === undefined) return ["0"]
    const { spkiPin, issuer, notAfter } = r.peer
    return ["1", spkiPin, issuer, notAfter, JSON.stringify(r.peer), r.at, member, WATCH_TTL_S]
  }
  const authFailedArgs = (r: DeliveryRecord) => {
    const failure = authFailureOf(r)
    if (failure === undefined) return ["0"]
    return ["1", failure.domain, failure.at, JSON.stringify(failure), AUTH_FAILED_KEEP, LAST_TTL_S]
  }
  const recordCall = (r: DeliveryRecord, shard: number): StatsCall => {
    const hour = Math.floor(r.at / HOUR)
    const member = watchMember(r)
    const keys = [
      bucket(shard, r.partner, hour),
      last(shard, r.partner),
      partners(shard),
      sourceBucket(shard, hour),
      // Never touched without a certificate to watch; still a key under the shard's tag.
      watchEntry(shard, member ?? "-"),
      watched(shard),
      authFailed(shard),
      authFailedLast(shard),
    ]
    const args = [
      r.partner,
      BUCKET_TTL_S,
      JSON.stringify(r),
      LAST_TTL_S,
      ...countArgs([
        ["delivered", r.delivered],
        [`deferred:${r.code ?? "SMTP_TRANSIENT"}`, r.deferred],
        [`bounced:${r.code ?? "SMTP_PERMANENT"}`, r.bounced],
      ]),
      ...sourceArgs(r),
      ...watchArgs(r, member),
      ...authFailedArgs(r),
    ]
    return { script: RECORD, keys, args }
  }
  return {
    record: (r, shard) => {
      const { keys, args } = recordCall(r, shard)
      return redis.script(RECORD, keys, args).pipe(Effect.ignore)
    },
    recordCall,
    health: (now) =>
      Effect.gen(function* () {
        const names = yield* unionOf(partners)
        if (names.length === 0) return []
        const current = Math.floor(now / HOUR)
        const shards = yield* everyShard((shard) => shardHealth(shard, names, current))
        return names.map((partner, p): PartnerHealth => {
          const totals = { delivered: 0, deferred: {}, bounced: {} }
          let latest: DeliveryRecord | undefined
          for (const shard of shards) {
            for (const hour of shard[p]!.buckets) addBucket(totals, hour)
            latest = newer(latest, shard[p]!.last)
          }
          return { partner, ...totals, last: latest }
        })
      }).pipe(Effect.mapError(unavailable)),
    certificates: Effect.gen(function* () {
      const members = yield* unionOf(watched)
      if (members.length === 0) return []
      const shards = yield* everyShard((shard) =>
        redis.batch(members.map((m) => ["HGETALL", watchEntry(shard, m)] as const)),
      )
      return members.flatMap((m, i) => {
        const seen = shards.flatMap((replies) => {
          const entry = watchedFrom(m, hashOf(replies[i]))
          return entry ? [entry] : []
        })
        const merged = mergeWatched(seen)
        return merged ? [merged] : []
      })
    }).pipe(Effect.mapError(unavailable)),
    recordRoute: (partner, check) =>
      redis
        .batch(
          [
            ["SET", redis.keys.key("watch", "route", partner), JSON.stringify(check), "EX", LAST_TTL_S],
            ["SADD", routed, partner],
            ["EXPIRE", routed, LAST_TTL_S],
          ],
          { atomic: true },
        )
        .pipe(Effect.asVoid, Effect.mapError(unavailable)),
    routeMismatchOf: (partner) =>
      redis.get(redis.keys.key("watch", "route", partner)).pipe(
        Effect.map((text) => Option.getOrUndefined(Option.flatMap(text, decodeRoute))),
        Effect.map((check) => (check?.mismatch ? check : undefined)),
        Effect.orElseSucceed(() => undefined),
      ),
    routes: Effect.gen(function* () {
      const names = [...(yield* redis.smembers(routed))].sort()
      if (names.length === 0) return {}
      const values = yield* redis.mget(names.map((n) => redis.keys.key("watch", "route", n)))
      const checks: Record<string, RouteCheck> = {}
      names.forEach((name, i) => {
        const decoded = values[i] ? decodeRoute(values[i]!) : Option.none()
        if (Option.isSome(decoded)) checks[name] = decoded.value
      })
      return checks
    }).pipe(Effect.mapError(unavailable)),
    policySources: Effect.fn("DeliveryStats.policySources")(function* (now: number) {
      const current = Math.floor(now / HOUR)
      const shards = yield* everyShard((shard) =>
        redis.batch([
          ...Array.from({ length: HOURS }, (_, i) => ["HGETALL", sourceBucket(shard, current - i)] as const),
          ["HGETALL", authFailedLast(shard)] as const,
        ]),
      ).pipe(Effect.mapError(unavailable))
      return {
        counts: sourceTotals(shards.flatMap((replies) => replies.slice(0, HOURS).map(hashOf))),
        authFailures: mergeAuthFailures(shards.map((replies) => hashOf(replies.at(-1)))),
      }
    }),
  }
}

export class DeliveryStats extends Context.Tag("@mailconnect/DeliveryStats")<
  DeliveryStats,
  DeliveryStatsShape
>() {
  static layer = Layer.scoped(
    DeliveryStats,
    Effect.gen(function* () {
      const layout = yield* QueueLayout
      return makeDeliveryStats(yield* RedisClient.connect({ purpose: "stats", ...failFast }), layout)
    }),
  )
}

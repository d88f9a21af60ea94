/**
 * `TlsReportCounters`: the fleet's TLS session counts for reporting, in Redis. Per UTC day and
 * recipient domain: the policies seen (JSON by a short digest) and, per policy, the successful
 * sessions and the failed ones by failure detail. Every relay adds its sessions; one relay
 * reads them when the day's report is built (`send.ts`).
 *
 * Exactly once per session: one delivery's sessions go in one Lua call that first sets a marker
 * for the first session's id (NX, 10 minutes) — a write that ioredis resends after a lost reply
 * does not count twice; a reused connection is not a new session (the binding leaves it out).
 *
 * Keys: `{mc}:tlsrpt:domains:<day>` set; `{mc}:tlsrpt:pol:<day>:<domain>` hash digest → policy
 * JSON; `{mc}:tlsrpt:n:<day>:<domain>` hash `<digest>|ok` and `<digest>|f|<detail JSON>` →
 * count; `{mc}:tlsrpt:seen:<session id>`; kept 8 days. The send state (`claim`, `done`) is here too.
 */
import { createHash } from "node:crypto"
import { RedisClient, type RedisCommandError } from "@mailconnect/redis-client"
import { Context, Effect, Layer } from "effect"
import { TlsReportStoreUnavailable } from "./errors"
import type { FailureDetail, PolicyResult, ReportPolicy } from "./report"
import { type SessionFailure, type TlsSession, utcDay } from "./session"

const KEEP_S = 8 * 86_400
const SEEN_MS = 10 * 60_000

const RECORD = {
  name: "tlsrpt-record",
  numberOfKeys: 4,
  lua: `
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
redis.call('SADD', KEYS[2], ARGV[3])
for i = 4, #ARGV, 4 do
  redis.call('HSETNX', KEYS[3], ARGV[i], ARGV[i + 1])
  redis.call('HINCRBY', KEYS[4], ARGV[i + 2], ARGV[i + 3])
end
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[3], ARGV[2])
redis.call('EXPIRE', KEYS[4], ARGV[2])
return 1
`,
}

/** The policy's JSON with its fields in one order, so one policy has one digest. */
const policyJson = (p: ReportPolicy): string =>
  JSON.stringify({
    "policy-type": p["policy-type"],
    ...(p["policy-string"] ? { "policy-string": p["policy-string"] } : {}),
    "policy-domain": p["policy-domain"],
    ...(p["mx-host"] ? { "mx-host": p["mx-host"] } : {}),
  })

const FAILURE_FIELDS = [
  "result-type",
  "sending-mta-ip",
  "receiving-mx-hostname",
  "receiving-mx-helo",
  "receiving-ip",
  "additional-information",
  "failure-reason-code",
] as const

const failureJson = (f: SessionFailure): string =>
  JSON.stringify(Object.fromEntries(FAILURE_FIELDS.filter((k) => f[k] !== undefined).map((k) => [k, f[k]])))

const digestOf = (json: string) => createHash("sha256").update(json).digest("base64url").slice(0, 16)

export interface DomainDay {
  readonly day: string
  readonly domain: string
}

export interface TlsReportCountersShape {
  /** Adds one delivery's sessions (best effort for delivery: the caller ignores a failure). */
  readonly record: (sessions: ReadonlyArray<TlsSession>) => Effect.Effect<void, TlsReportStoreUnavailable>
  /** The recipient domains with sessions on `day`. */
  readonly domains: (day: string) => Effect.Effect<ReadonlyArray<string>, TlsReportStoreUnavailable>
  /** The day's policies for a domain with their counts, in a stable order. */
  readonly results: (at: DomainDay) => Effect.Effect<ReadonlyArray<PolicyResult>, TlsReportStoreUnavailable>
  /** Takes the day's report of a domain for `holder` for `leaseMs`, unless done or held by another. */
  readonly claim: (
    at: DomainDay,
    holder: string,
    leaseMs: number,
  ) => Effect.Effect<boolean, TlsReportStoreUnavailable>
  /** Marks the day's report of a domain done (sent, or nothing to send); releases the claim. */
  readonly done: (at: DomainDay, outcome: string) => Effect.Effect<void, TlsReportStoreUnavailable>
  /** Gives the claim up so another round may try again. */
  readonly release: (at: DomainDay, holder: string) => Effect.Effect<void, TlsReportStoreUnavailable>
  /** The outcome recorded by `done`, if any. */
  readonly outcome: (at: DomainDay) => Effect.Effect<string | undefined, TlsReportStoreUnavailable>
}

/** Claims only if not done: KEYS done, claim; ARGV holder, lease ms. */
const CLAIM = {
  name: "tlsrpt-claim",
  numberOfKeys: 2,
  lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
`,
}

/** Releases only the holder's own claim. */
const RELEASE = {
  name: "tlsrpt-release",
  numberOfKeys: 1,
  lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
}

export const makeTlsReportCounters = (redis: RedisClient["Type"]): TlsReportCountersShape => {
  const key = (...parts: ReadonlyArray<string>) => redis.keys.key("tlsrpt", ...parts)
  const fail = (operation: string) => (e: RedisCommandError) =>
    new TlsReportStoreUnavailable({ operation, detail: e.detail })

  const recordGroup = (sessions: ReadonlyArray<TlsSession>) => {
    const first = sessions[0]!
    const day = utcDay(first.at)
    const args: Array<string | number> = [SEEN_MS, KEEP_S, first.domain]
    for (const s of sessions) {
      const policy = policyJson(s.policy)
      const digest = digestOf(policy)
      args.push(digest, policy, s.failure ? `${digest}|f|${failureJson(s.failure)}` : `${digest}|ok`, 1)
    }
    return redis.script(
      RECORD,
      [
        key("seen", first.id),
        key("domains", day),
        key("pol", day, first.domain),
        key("n", day, first.domain),
      ],
      args,
    )
  }

  return {
    record: (sessions) => {
      const groups = new Map<string, Array<TlsSession>>()
      for (const s of sessions) {
        const group = `${utcDay(s.at)} ${s.domain}`
        groups.set(group, [...(groups.get(group) ?? []), s])
      }
      return Effect.forEach(groups.values(), recordGroup, { discard: true }).pipe(
        Effect.mapError(fail("record")),
      )
    },
    domains: (day) =>
      redis.smembers(key("domains", day)).pipe(
        Effect.map((names) => [...names].sort()),
        Effect.mapError(fail("domains")),
      ),
    results: ({ day, domain }) =>
      Effect.all([redis.hgetall(key("pol", day, domain)), redis.hgetall(key("n", day, domain))]).pipe(
        Effect.map(([policies, counts]) => resultsOf(policies, counts)),
        Effect.mapError(fail("results")),
      ),
    claim: ({ day, domain }, holder, leaseMs) =>
      redis.script(CLAIM, [key("done", day, domain), key("claim", day, domain)], [holder, leaseMs]).pipe(
        Effect.map((r) => r === 1),
        Effect.mapError(fail("claim")),
      ),
    done: ({ day, domain }, outcome) =>
      redis
        .batch(
          [
            ["SET", key("done", day, domain), outcome, "EX", KEEP_S],
            ["DEL", key("claim", day, domain)],
          ],
          { atomic: true },
        )
        .pipe(Effect.asVoid, Effect.mapError(fail("done"))),
    release: ({ day, domain }, holder) =>
      redis
        .script(RELEASE, [key("claim", day, domain)], [holder])
        .pipe(Effect.asVoid, Effect.mapError(fail("release"))),
    outcome: ({ day, domain }) =>
      redis.get(key("done", day, domain)).pipe(
        Effect.map((o) => (o._tag === "Some" ? o.value : undefined)),
        Effect.mapError(fail("outcome")),
      ),
  }
}

/** The hashes as report entries: policies by type and domain, failure details by count. */
export const resultsOf = (
  policies: Readonly<Record<string, string>>,
  counts: Readonly<Record<string, string>>,
): ReadonlyArray<PolicyResult> => {
  const byDigest = new Map<string, { ok: number; failures: Array<FailureDetail> }>()
  for (const [field, value] of Object.entries(counts)) {
    const [digest, kind] = field.split("|", 2) as [string, string]
    const entry = byDigest.get(digest) ?? { ok: 0, failures: [] }
    byDigest.set(digest, entry)
    if (kind === "ok") entry.ok += Number(value)
    else
      entry.failures.push({
        ...(JSON.parse(field.slice(digest.length + 3)) as SessionFailure),
        "failed-session-count": Number(value),
      })
  }
  return [...byDigest]
    .flatMap(([digest, { ok, failures }]) => {
      const policy = policies[digest]
      if (policy === undefined) return []
      const failed = failures.reduce((n, f) => n + f["failed-session-count"], 0)
      failures.sort(
        (a, b) =>
          b["failed-session-count"] - a["failed-session-count"] ||
          JSON.stringify(a).localeCompare(JSON.stringify(b)),
      )
      return [
        {
          policy: JSON.parse(policy) as ReportPolicy,
          summary: { "total-successful-session-count": ok, "total-failure-session-count": failed },
          ...(failures.length > 0 ? { "failure-details": failures } : {}),
        } satisfies PolicyResult,
      ]
    })
    .sort((a, b) => policyJson(a.policy).localeCompare(policyJson(b.policy)))
}

export class TlsReportCounters extends Context.Tag("@mailconnect/tlsrpt/TlsReportCounters")<
  TlsReportCounters,
  TlsReportCountersShape
>() {
  /** On a fail-fast connection of its own: a counters write never holds a delivery up for long. */
  static layer = Layer.scoped(
    TlsReportCounters,
    Effect.map(
      RedisClient.connect({
        purpose: "tlsrpt",
        maxRetriesPerRequest: 1,
        commandTimeoutMs: 5_000,
        autoPipelining: true,
      }),
      makeTlsReportCounters,
    ),
  )
}

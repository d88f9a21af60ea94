/**
 * `ReceivedReports`: the TLS reports other organisations sent us, kept in Redis for the dashboard.
 * A report is stored once per (organisation, report-id) — a report sent again, by the same or the
 * other channel, changes nothing — and the store is bounded: every key expires after
 * `RETENTION_DAYS`, the list of recent reports keeps the newest `KEEP_REPORTS`, and a day keeps at
 * most `MAX_ROWS_PER_DAY` (organisation, policy domain) rows (reports past that still list, and
 * the day counts them as `overflow`), so a flood of invented reporters cannot grow Redis.
 *
 * Keys (`{mc}:tlsrpt:in:…`): `seen:<id>` the idempotency marker; `report:<id>` JSON summary;
 * `recent` sorted set of ids by time received; `day:<YYYY-MM-DD>` hash of counters
 * `<row>|successful`, `<row>|failed`, `<row>|reports`, `<row>|type|<result-type>`, `overflow`;
 * `day:<YYYY-MM-DD>:rows` hash row → JSON {organization, policyDomain}; `rejected:<YYYY-MM-DD>`
 * hash `<via>|<reason>` → count, by day received. `<id>` and `<row>` are digests (`summary.ts`).
 *
 * Trusts Redis contents no more than any input: summaries are decoded with their schema.
 */
import { RedisClient, type RedisCommandError } from "@mailconnect/redis-client"
import { Context, Effect, Layer, Option, Schema } from "effect"
import type { ReceivedTlsReport } from "../schema"
import { utcDay } from "../session"
import { REJECTION_REASONS, ReceivedReportsUnavailable, type RejectionReason } from "./errors"
import { type ReportChannel, ReportSummary, type RowIncrement, summarize } from "./summary"

export const RETENTION_DAYS = 30
export const KEEP_REPORTS = 1000
export const MAX_ROWS_PER_DAY = 500
const DAY = 86_400_000
const TTL_S = RETENTION_DAYS * 86_400

export type StoreOutcome = "stored" | "duplicate"

/** One reporting organisation's sessions toward one of our policy domains on one UTC day. */
export interface DailyRow {
  readonly day: string
  readonly organization: string
  readonly policyDomain: string
  readonly reports: number
  readonly successful: number
  readonly failed: number
  readonly failuresByType: Readonly<Record<string, number>>
}

export interface DailyView {
  /** Newest day first, then organisation and domain in order. */
  readonly rows: ReadonlyArray<DailyRow>
  /** Reports stored on a day whose row limit was reached, by day. */
  readonly overflow: Readonly<Record<string, number>>
}

export interface RejectedCount {
  readonly day: string
  readonly via: ReportChannel
  readonly reason: RejectionReason
  readonly count: number
}

export interface ReceivedReportsShape {
  readonly store: (
    report: ReceivedTlsReport,
    via: ReportChannel,
    receivedAt: number,
  ) => Effect.Effect<StoreOutcome, ReceivedReportsUnavailable>
  /** Counts a report refused as unusable (too large, undecodable, invalid…), by the day received. */
  readonly recordRejected: (
    reason: RejectionReason,
    via: ReportChannel,
    at: number,
  ) => Effect.Effect<void, ReceivedReportsUnavailable>
  /** The retention window ending on the UTC day of `now`. */
  readonly daily: (now: number) => Effect.Effect<DailyView, ReceivedReportsUnavailable>
  /** The newest `limit` reports, newest first. */
  readonly recent: (limit: number) => Effect.Effect<ReadonlyArray<ReportSummary>, ReceivedReportsUnavailable>
  readonly rejected: (now: number) => Effect.Effect<ReadonlyArray<RejectedCount>, ReceivedReportsUnavailable>
}

/**
 * Stores one report unless its marker exists, in one step so that a crash cannot count it twice.
 * The evicted summaries are named by prefix + id: every key shares the `{mc}` hash slot.
 * KEYS: seen, report, recent, day counters, day rows.
 * ARGV: id, summary JSON, received at, ttl seconds, keep, report key prefix, rows JSON, row limit.
 * Counts travel as strings: a Lua number prints large integers in exponent form, which HINCRBY refuses.
 */
const STORE_LUA = `
if not redis.call('SET', KEYS[1], ARGV[3], 'NX', 'EX', ARGV[4]) then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
local over = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[5])
if over > 0 then
  local old = redis.call('ZRANGE', KEYS[3], 0, over - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, over - 1)
  for _, id in ipairs(old) do redis.call('DEL', ARGV[6] .. id) end
end
for _, r in ipairs(cjson.decode(ARGV[7])) do
  if redis.call('HEXISTS', KEYS[5], r[1]) == 1 or redis.call('HLEN', KEYS[5]) < tonumber(ARGV[8]) then
    redis.call('HSET', KEYS[5], r[1], r[2])
    for _, f in ipairs(r[3]) do redis.call('HINCRBY', KEYS[4], r[1] .. '|' .. f[1], f[2]) end
  else
    redis.call('HINCRBY', KEYS[4], 'overflow', 1)
  end
end
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[4], ARGV[4])
redis.call('EXPIRE', KEYS[5], ARGV[4])
return 1
`

const RowName = Schema.parseJson(Schema.Struct({ organization: Schema.String, policyDomain: Schema.String }))
const decodeRowName = Schema.decodeUnknownOption(RowName)
const decodeSummary = Schema.decodeUnknownOption(Schema.parseJson(ReportSummary))

const rowFields = (row: RowIncrement): ReadonlyArray<readonly [string, string]> => [
  ["reports", "1"],
  ["successful", String(row.successful)],
  ["failed", String(row.failed)],
  ...Object.entries(row.failuresByType).map(([type, n]) => [`type|${type}`, String(n)] as const),
]

/** HGETALL replies come as flat [field, value, …] arrays through `batch`. */
const hashOf = (reply: unknown): Record<string, string> => {
  const flat = (reply ?? []) as ReadonlyArray<string>
  const hash: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!
  return hash
}

/** The rows of one day from its counters and row names. */
const dayRows = (day: string, counters: Record<string, string>, names: Record<string, string>) =>
  Object.entries(names).flatMap(
    ([row, json]): ReadonlyArray<DailyRow> =>
      Option.match(decodeRowName(json), {
        onNone: () => [],
        onSome: ({ organization, policyDomain }) => {
          const count = (field: string) => Number(counters[`${row}|${field}`] ?? 0)
          const failuresByType: Record<string, number> = {}
          for (const [field, n] of Object.entries(counters))
            if (field.startsWith(`${row}|type|`)) failuresByType[field.slice(row.length + 6)] = Number(n)
          return [
            {
              day,
              organization,
              policyDomain,
              reports: count("reports"),
              successful: count("successful"),
              failed: count("failed"),
              failuresByType,
            },
          ]
        },
      }),
  )

/** The UTC days of the retention window ending on `now`'s day, newest first. */
const windowDays = (now: number): ReadonlyArray<string> =>
  Array.from({ length: RETENTION_DAYS + 1 }, (_, i) => utcDay(now - i * DAY))

const byDayThenName = (a: DailyRow, b: DailyRow) =>
  a.day !== b.day
    ? a.day < b.day
      ? 1
      : -1
    : a.organization.localeCompare(b.organization) || a.policyDomain.localeCompare(b.policyDomain)

export const makeReceivedReports = (redis: RedisClient["Type"]): ReceivedReportsShape => {
  const key = (...parts: ReadonlyArray<string>) => redis.keys.key("tlsrpt", "in", ...parts)
  const recentKey = key("recent")
  const unavailable = (operation: ReceivedReportsUnavailable["operation"]) => (e: RedisCommandError) =>
    new ReceivedReportsUnavailable({ operation, detail: e.detail })
  return {
    store: Effect.fn("ReceivedReports.store")(function* (report, via, receivedAt) {
      const { summary, rows } = summarize(report, via, receivedAt)
      const rowsArg = rows.map((row) => [
        row.row,
        JSON.stringify({ organization: row.organization, policyDomain: row.policyDomain }),
        rowFields(row),
      ])
      const reply = yield* redis
        .call(
          "EVAL",
          STORE_LUA,
          5,
          key("seen", summary.id),
          key("report", summary.id),
          recentKey,
          key("day", summary.day),
          key("day", summary.day, "rows"),
          summary.id,
          JSON.stringify(summary),
          receivedAt,
          TTL_S,
          KEEP_REPORTS,
          key("report", ""),
          JSON.stringify(rowsArg),
          MAX_ROWS_PER_DAY,
        )
        .pipe(Effect.mapError(unavailable("store")))
      return Number(reply) === 1 ? "stored" : "duplicate"
    }),
    recordRejected: Effect.fn("ReceivedReports.recordRejected")(function* (reason, via, at) {
      const rejected = key("rejected", utcDay(at))
      yield* redis
        .batch([
          ["HINCRBY", rejected, `${via}|${reason}`, 1],
          ["EXPIRE", rejected, TTL_S],
        ])
        .pipe(Effect.mapError(unavailable("record-rejected")))
    }),
    daily: Effect.fn("ReceivedReports.daily")(function* (now) {
      const days = windowDays(now)
      const replies = yield* redis
        .batch(
          days.flatMap((day) => [
            ["HGETALL", key("day", day)] as const,
            ["HGETALL", key("day", day, "rows")] as const,
          ]),
        )
        .pipe(Effect.mapError(unavailable("read")))
      const overflow: Record<string, number> = {}
      const rows = days.flatMap((day, i) => {
        const counters = hashOf(replies[2 * i])
        if (counters.overflow !== undefined) overflow[day] = Number(counters.overflow)
        return dayRows(day, counters, hashOf(replies[2 * i + 1]))
      })
      return { rows: rows.sort(byDayThenName), overflow }
    }),
    recent: Effect.fn("ReceivedReports.recent")(function* (limit) {
      if (limit <= 0) return []
      const ids = (yield* redis
        .call("ZREVRANGE", recentKey, 0, limit - 1)
        .pipe(Effect.mapError(unavailable("read")))) as ReadonlyArray<string>
      const texts = yield* redis
        .mget(ids.map((id) => key("report", id)))
        .pipe(Effect.mapError(unavailable("read")))
      return texts.flatMap((text) => (text === null ? [] : Option.toArray(decodeSummary(text))))
    }),
    rejected: Effect.fn("ReceivedReports.rejected")(function* (now) {
      const days = windowDays(now)
      const replies = yield* redis
        .batch(days.map((day) => ["HGETALL", key("rejected", day)] as const))
        .pipe(Effect.mapError(unavailable("read")))
      return days.flatMap((day, i) =>
        Object.entries(hashOf(replies[i])).flatMap(([field, n]): ReadonlyArray<RejectedCount> => {
          const [via, reason] = field.split("|") as [ReportChannel, RejectionReason]
          return (via === "mailto" || via === "https") && REJECTION_REASONS.includes(reason)
            ? [{ day, via, reason, count: Number(n) }]
            : []
        }),
      )
    }),
  }
}

export class ReceivedReports extends Context.Tag("@mailconnect/tlsrpt/ReceivedReports")<
  ReceivedReports,
  ReceivedReportsShape
>() {
  /** On the process's shared `RedisClient`. */
  static layer = Layer.effect(ReceivedReports, Effect.map(RedisClient, makeReceivedReports))
}

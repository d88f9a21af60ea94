/**
 * `TraceIndex`: the message trace — a bounded, fleet-wide index in Redis of the delivery log's
 * lines, searchable by sender, recipient, Message-ID, queue id, partner, failure code and time.
 * A second consumer of the same lines the delivery log writes (no second source of truth): a
 * message's record is its session-in, attempt and DSN lines, kept after BullMQ has forgotten
 * the job. Bounded by time: every entry older than the retention is cut on write and every key
 * expires a retention after its newest line. Layout and measured memory: docs/message-trace.md.
 *
 * Keys (`{mc}` = the fleet's hash tag): `{mc}:trace:msg:<queue id>` list of JSON lines;
 * `{mc}:trace:all` and `{mc}:trace:<dimension>:<value>` sorted sets of queue ids scored by the
 * time of the message's newest line there (dimensions in `layout.ts`).
 *
 * Trusts: the lines it is given and what Redis returns (decoded, a malformed line is skipped).
 * Touches: only the `trace:` keys.
 */
import { type DeliveryLogLine, jsonLine } from "@mailconnect/delivery-log"
import { RedisClient, type RedisCommandError } from "@mailconnect/redis-client"
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import { TraceUnavailable } from "./errors"
import { entriesFor, entriesOf, type IndexEntry, type TraceFilter } from "./layout"
import { RECORD, SEARCH, withKeys } from "./scripts"

export const DAY_MS = 86_400_000
/** RELAY_TRACE_RETENTION's default. */
export const DEFAULT_RETENTION_MS = 30 * DAY_MS
/** Lines kept per message: the first and the newest others (a message retried hourly for days). */
export const MAX_LINES = 100
/** Index entries one search looks at, at most (then it says it stopped early). */
export const SEARCH_BUDGET = 20_000
/** The largest `limit` a search takes. */
export const MAX_LIMIT = 1_000

/** A line as stored: the delivery log's line with the relay that wrote it. */
export type TraceLine = DeliveryLogLine & { readonly relay: string }

export interface TraceRecord {
  readonly queueId: string
  /** The time of the message's newest line (ms). */
  readonly at: number
  /** Oldest first. */
  readonly lines: ReadonlyArray<TraceLine>
}

export interface TraceSearchResult {
  /** Newest first. */
  readonly records: ReadonlyArray<TraceRecord>
  /** Index entries looked at. */
  readonly scanned: number
  /** False when more messages may match than were returned (the limit, or the search budget). */
  readonly complete: boolean
}

export interface TraceIndexShape {
  /** One line into the trace, one round trip. The caller decides what a failure means. */
  readonly record: (line: DeliveryLogLine) => Effect.Effect<void, TraceUnavailable>
  readonly search: (filter: TraceFilter) => Effect.Effect<TraceSearchResult, TraceUnavailable>
  readonly show: (queueId: string) => Effect.Effect<Option.Option<TraceRecord>, TraceUnavailable>
}

export interface TraceOptions {
  /** Written into each line, as the delivery log writes it (RELAY_ID). */
  readonly relay: string
  readonly retentionMs: number
  readonly maxLines?: number
}

const envelope = { at: Schema.String, relay: Schema.String, queueId: Schema.String }
/** The fields the trace and its readers rely on; the rest of a line passes through as written. */
const StoredLine = Schema.parseJson(
  Schema.Union(
    Schema.Struct({
      event: Schema.Literal("session-in"),
      ...envelope,
      sender: Schema.String,
      recipients: Schema.Array(Schema.String),
    }),
    Schema.Struct({
      event: Schema.Literal("attempt"),
      ...envelope,
      sender: Schema.String,
      domain: Schema.String,
      recipients: Schema.Array(Schema.Struct({ address: Schema.String, outcome: Schema.String })),
    }),
    Schema.Struct({ event: Schema.Literal("dsn"), ...envelope, dsnQueueId: Schema.String }),
  ),
)
const decodeLine = Schema.decodeUnknownOption(StoredLine, { onExcessProperty: "preserve" })

/**
 * Stored lines as data; one that does not decode (damaged, or from a future writer that changed
 * what is checked here) is left out. The lines are this package's own `jsonLine` output, so the
 * checked shape stands for the whole line.
 */
export const decodeLines = (texts: ReadonlyArray<string>): ReadonlyArray<TraceLine> =>
  texts.flatMap((text) => Option.toArray(decodeLine(text)) as unknown as ReadonlyArray<TraceLine>)

const unavailable = (operation: TraceUnavailable["operation"]) => (e: RedisCommandError) =>
  new TraceUnavailable({ operation, reason: e.reason, detail: e.detail })

const LATEST = 8_640_000_000_000_000

/** An index set is trimmed and its expiry pushed at most this often per process. */
const MAINTAIN_EVERY_MS = 60_000
const MAINTAINED_MAX = 100_000

export const makeTraceIndex = (redis: RedisClient["Type"], options: TraceOptions): TraceIndexShape => {
  const key = (...parts: ReadonlyArray<string>) => redis.keys.key("trace", ...parts)
  const all = key("all")
  const recordKey = (queueId: string) => key("msg", queueId)
  const indexKey = (e: IndexEntry) => key(e.dimension, e.value)
  const maxLines = options.maxLines ?? MAX_LINES
  // When this process last trimmed and extended each index set (RECORD's maintain flags).
  const maintained = new Map<string, number>()
  const dueForMaintenance = (set: string, now: number): boolean => {
    const last = maintained.get(set)
    if (last !== undefined && now - last < MAINTAIN_EVERY_MS && now >= last) return false
    // Bounded: forgetting only means maintaining a set again a little early.
    if (maintained.size >= MAINTAINED_MAX) maintained.clear()
    maintained.set(set, now)
    return true
  }

  const read = (found: ReadonlyArray<readonly [string, number]>) =>
    found.length === 0
      ? Effect.succeed([])
      : redis.batch(found.map(([queueId]) => ["LRANGE", recordKey(queueId), 0, -1] as const)).pipe(
          Effect.map((replies) =>
            found.flatMap(([queueId, at], i): ReadonlyArray<TraceRecord> => {
              const lines = decodeLines((replies[i] ?? []) as ReadonlyArray<string>)
              // The index may outlive a record by a little (its own expiry): no record, no result.
              return lines.length === 0 ? [] : [{ queueId, at, lines }]
            }),
          ),
        )

  return {
    record: Effect.fn("TraceIndex.record")(function* (line: DeliveryLogLine) {
      const now = yield* Clock.currentTimeMillis
      const parsed = Date.parse(line.at)
      const at = Number.isFinite(parsed) ? parsed : now
      const sets = [all, ...entriesOf(line).map(indexKey)]
      const keys = [recordKey(line.queueId), ...sets]
      yield* redis
        .script(withKeys(RECORD, keys.length), keys, [
          line.queueId,
          at,
          now - options.retentionMs,
          at + options.retentionMs,
          jsonLine(line, options.relay).trimEnd(),
          maxLines,
          at + options.retentionMs + MAINTAIN_EVERY_MS,
          ...sets.map((set) => (dueForMaintenance(set, now) ? "1" : "0")),
        ])
        .pipe(Effect.mapError(unavailable("record")))
    }),

    search: Effect.fn("TraceIndex.search")(function* (filter: TraceFilter) {
      const sets = entriesFor(filter).map(indexKey)
      const queueId = filter.queueId?.trim() ?? ""
      const keys = queueId !== "" ? [all, ...sets] : sets.length === 0 ? [all] : sets
      const limit = Math.max(1, Math.min(MAX_LIMIT, Math.floor(filter.limit)))
      const reply = (yield* redis
        .script(withKeys(SEARCH, keys.length), keys, [
          Math.max(0, filter.since ?? 0),
          Math.min(LATEST, filter.until ?? LATEST),
          limit,
          SEARCH_BUDGET,
          queueId,
        ])
        .pipe(Effect.mapError(unavailable("search")))) as readonly [ReadonlyArray<string>, number, number]
      const [flat, scanned, complete] = reply
      const found: Array<readonly [string, number]> = []
      for (let i = 0; i + 1 < flat.length; i += 2) found.push([flat[i]!, Number(flat[i + 1])])
      const records = yield* read(found).pipe(Effect.mapError(unavailable("search")))
      return { records, scanned, complete: complete === 1 }
    }),

    show: Effect.fn("TraceIndex.show")(function* (queueId: string) {
      const [lines, score] = yield* redis
        .batch([
          ["LRANGE", recordKey(queueId), 0, -1],
          ["ZSCORE", all, queueId],
        ])
        .pipe(Effect.mapError(unavailable("show")))
      const decoded = decodeLines((lines ?? []) as ReadonlyArray<string>)
      if (decoded.length === 0) return Option.none()
      const at = score === null || score === undefined ? Date.parse(decoded.at(-1)!.at) : Number(score)
      return Option.some({ queueId, at, lines: decoded })
    }),
  }
}

export class TraceIndex extends Context.Tag("@mailconnect/TraceIndex")<TraceIndex, TraceIndexShape>() {
  /**
   * On a fail-fast connection of its own (one retry, 5 s per command): a trace write is best
   * effort and must never hold mail up for longer, nor share a stalled connection with the queue.
   * Closed with the scope.
   */
  static make = (options: TraceOptions) =>
    Effect.map(
      RedisClient.connect({
        purpose: "trace",
        maxRetriesPerRequest: 1,
        commandTimeoutMs: 5_000,
        autoPipelining: true,
      }),
      (redis) => makeTraceIndex(redis, options),
    )

  static layer = (options: TraceOptions) => Layer.scoped(TraceIndex, TraceIndex.make(options))
}

/**
 * `TraceIndex`: the message trace — a bounded, fleet-wide index in Redis of the delivery log's
 * lines, searchable by sender, recipient, Message-ID, queue id, partner, failure code and time.
 * A second consumer of the same lines the delivery log writes (no second source of truth): a
 * message's record is its session-in, attempt and DSN lines, kept after BullMQ has forgotten
 * the job. Bounded by time: every entry older than the retention is cut on write and every key
 * expires a retention after its newest line. Layout and measured memory: docs/message-trace.md.
 *
 * Keys (`{mc}` = the hash tag of the message's shard, `REDIS_SHARDS`: `{mc}` for shard 0, `{mc:i}`
 * for shard i, the message's shard taken from its queue id as for the spool):
 * `{mc}:trace:msg:<queue id>` list of JSON lines; `{mc}:trace:all` and
 * `{mc}:trace:<dimension>:<value>` sorted sets of queue ids scored by the time of the message's
 * newest line there (dimensions in `layout.ts`). Each shard has a full index of its own messages,
 * so a line is one script in one slot; a search runs on every shard and merges by time.
 *
 * Trusts: the lines it is given and what Redis returns (decoded, a malformed line is skipped).
 * Touches: only the `trace:` keys.
 */
import { type DeliveryLogLine, jsonLine } from "@mailconnect/delivery-log"
import { RedisClient, type RedisCommandError, shardOf, shardTag } from "@mailconnect/redis-client"
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import { TraceUnavailable } from "./errors"
import { entriesFor, entriesOf, type IndexEntry, type TraceFilter } from "./layout"
import { RECORD, SEARCH, withKeys } from "./scripts"

/** RECORD for `RedisClient.scripts`, where each call carries its own key count. */
const RECORD_MANY = withKeys(RECORD, 0)

export const DAY_MS = 86_400_000
/** RELAY_TRACE_RETENTION's default. */
export const DEFAULT_RETENTION_MS = 30 * DAY_MS
/** Lines kept per message: the first and the newest others (a message retried hourly for days). */
export const MAX_LINES = 100
/** Index entries one search looks at in each shard, at most (then it says it stopped early). */
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
  /**
   * Many lines, one round trip per shard they fall in (a pipeline of the same script), in order
   * within a message. For a writer that batches: no fiber or round trip per line.
   */
  readonly recordAll: (lines: ReadonlyArray<DeliveryLogLine>) => Effect.Effect<void, TraceUnavailable>
  readonly search: (filter: TraceFilter) => Effect.Effect<TraceSearchResult, TraceUnavailable>
  readonly show: (queueId: string) => Effect.Effect<Option.Option<TraceRecord>, TraceUnavailable>
}

export interface TraceOptions {
  /** Written into each line, as the delivery log writes it (RELAY_ID). */
  readonly relay: string
  readonly retentionMs: number
  readonly maxLines?: number
  /**
   * The fleet's shard count (`QueueLayout.shards`); default 1. Writers and readers of one fleet
   * must use the same count, as for the spool; records written before a fleet grew its count are
   * still found (`show` and `search` read every shard).
   */
  readonly shards?: number
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
  const shards = Math.max(1, Math.floor(options.shards ?? 1))
  const prefix = redis.keys.tag.slice(1, -1)
  const allShards = Array.from({ length: shards }, (_, i) => i)
  const tags = allShards.map((i) => shardTag(prefix, i))
  const key = (shard: number, ...parts: ReadonlyArray<string>) => [tags[shard]!, "trace", ...parts].join(":")
  const all = (shard: number) => key(shard, "all")
  const recordKey = (shard: number, queueId: string) => key(shard, "msg", queueId)
  const indexKey = (shard: number) => (e: IndexEntry) => key(shard, e.dimension, e.value)
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

  /**
   * The lines of messages in the shards named for each, one batch per shard (a Cluster batch stays
   * in one slot). A message has lines in two shards only when the fleet grew its shard count while
   * it was queued: they are put back in time order.
   */
  const linesOf = (
    wanted: ReadonlyArray<{ readonly queueId: string; readonly shards: ReadonlyArray<number> }>,
  ) =>
    Effect.forEach(
      allShards,
      (shard) => {
        const here = wanted.filter((w) => w.shards.includes(shard)).map((w) => w.queueId)
        return here.length === 0
          ? Effect.succeed([] as ReadonlyArray<readonly [string, ReadonlyArray<TraceLine>]>)
          : redis
              .batch(here.map((queueId) => ["LRANGE", recordKey(shard, queueId), 0, -1] as const))
              .pipe(
                Effect.map((replies) =>
                  here.map(
                    (queueId, i) =>
                      [queueId, decodeLines((replies[i] ?? []) as ReadonlyArray<string>)] as const,
                  ),
                ),
              )
      },
      { concurrency: "unbounded" },
    ).pipe(
      Effect.map((perShard) => {
        const lines = new Map<string, Array<TraceLine>>()
        for (const [queueId, found] of perShard.flat()) {
          const known = lines.get(queueId)
          if (known === undefined) lines.set(queueId, [...found])
          else known.push(...found)
        }
        const split = new Set(wanted.filter((w) => w.shards.length > 1).map((w) => w.queueId))
        for (const [queueId, found] of lines)
          if (split.has(queueId)) found.sort((x, y) => Date.parse(x.at) - Date.parse(y.at))
        return lines
      }),
    )

  /** One line's keys and arguments for the RECORD script, in the shard of its message. */
  const callFor = (line: DeliveryLogLine, now: number) => {
    const parsed = Date.parse(line.at)
    const at = Number.isFinite(parsed) ? parsed : now
    // A DSN line carries the original's queue id: it joins that record, in that shard.
    const shard = shardOf(line.queueId, shards)
    const sets = [all(shard), ...entriesOf(line).map(indexKey(shard))]
    const keys = [recordKey(shard, line.queueId), ...sets]
    const args = [
      line.queueId,
      at,
      now - options.retentionMs,
      at + options.retentionMs,
      jsonLine(line, options.relay).trimEnd(),
      maxLines,
      at + options.retentionMs + MAINTAIN_EVERY_MS,
      ...sets.map((set) => (dueForMaintenance(set, now) ? "1" : "0")),
    ]
    return { shard, keys, args }
  }

  return {
    record: Effect.fnUntraced(function* (line: DeliveryLogLine) {
      const { keys, args } = callFor(line, yield* Clock.currentTimeMillis)
      yield* redis
        .script(withKeys(RECORD, keys.length), keys, args)
        .pipe(Effect.mapError(unavailable("record")))
    }),

    recordAll: Effect.fnUntraced(function* (lines: ReadonlyArray<DeliveryLogLine>) {
      const now = yield* Clock.currentTimeMillis
      const byShard = new Map<number, Array<ReturnType<typeof callFor>>>()
      for (const line of lines) {
        const call = callFor(line, now)
        const group = byShard.get(call.shard)
        if (group === undefined) byShard.set(call.shard, [call])
        else group.push(call)
      }
      yield* Effect.forEach(byShard.values(), (calls) => redis.scripts(RECORD_MANY, calls), {
        concurrency: byShard.size > 1 ? "unbounded" : 1,
        discard: true,
      }).pipe(Effect.mapError(unavailable("record")))
    }),

    search: Effect.fn("TraceIndex.search")(function* (filter: TraceFilter) {
      const entries = entriesFor(filter)
      const queueId = filter.queueId?.trim() ?? ""
      const limit = Math.max(1, Math.min(MAX_LIMIT, Math.floor(filter.limit)))
      // Each shard's newest `limit` matches: the newest `limit` of all are among them.
      const perShard = yield* Effect.forEach(
        allShards,
        (shard) => {
          const sets = entries.map(indexKey(shard))
          const keys = queueId !== "" ? [all(shard), ...sets] : sets.length === 0 ? [all(shard)] : sets
          return redis
            .script(withKeys(SEARCH, keys.length), keys, [
              Math.max(0, filter.since ?? 0),
              Math.min(LATEST, filter.until ?? LATEST),
              limit,
              SEARCH_BUDGET,
              queueId,
            ])
            .pipe(
              Effect.map((reply) => {
                const [flat, scanned, complete] = reply as readonly [ReadonlyArray<string>, number, number]
                const found: Array<readonly [string, number, number]> = []
                for (let i = 0; i + 1 < flat.length; i += 2)
                  found.push([flat[i]!, Number(flat[i + 1]), shard])
                return { found, scanned, complete: complete === 1 }
              }),
            )
        },
        { concurrency: "unbounded" },
      ).pipe(Effect.mapError(unavailable("search")))
      // Newest first across the shards; a message found in two (see linesOf) counts once.
      const hits = new Map<string, { queueId: string; at: number; shards: Array<number> }>()
      for (const [queueId, at, shard] of perShard.flatMap((r) => r.found)) {
        const hit = hits.get(queueId)
        if (hit === undefined) hits.set(queueId, { queueId, at, shards: [shard] })
        else {
          hit.at = Math.max(hit.at, at)
          hit.shards.push(shard)
        }
      }
      const merged = [...hits.values()].sort(
        (a, b) => b.at - a.at || (a.queueId < b.queueId ? -1 : a.queueId > b.queueId ? 1 : 0),
      )
      const chosen = merged.slice(0, limit)
      const lines = yield* linesOf(chosen).pipe(Effect.mapError(unavailable("search")))
      // The index may outlive a record by a little (its own expiry): no record, no result.
      const records = chosen.flatMap(({ queueId, at }): ReadonlyArray<TraceRecord> => {
        const found = lines.get(queueId) ?? []
        return found.length === 0 ? [] : [{ queueId, at, lines: found }]
      })
      return {
        records,
        scanned: perShard.reduce((sum, r) => sum + r.scanned, 0),
        complete: merged.length <= limit && perShard.every((r) => r.complete),
      }
    }),

    show: Effect.fn("TraceIndex.show")(function* (queueId: string) {
      // Every shard: its own, and a lower one it was queued in before the fleet grew.
      const [lines, scores] = yield* Effect.all(
        [
          linesOf([{ queueId, shards: allShards }]),
          Effect.forEach(allShards, (shard) => redis.call("ZSCORE", all(shard), queueId), {
            concurrency: "unbounded",
          }),
        ],
        { concurrency: "unbounded" },
      ).pipe(Effect.mapError(unavailable("show")))
      const found = lines.get(queueId) ?? []
      if (found.length === 0) return Option.none()
      const scored = scores.filter((x) => x !== null && x !== undefined).map(Number)
      const at = scored.length > 0 ? Math.max(...scored) : Date.parse(found.at(-1)!.at)
      return Option.some({ queueId, at, lines: found })
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

/**
 * The message trace (`@mailconnect/message-trace`) as a second consumer of the delivery log's
 * lines: every line the relay writes to its delivery log is also recorded in the fleet's trace
 * in Redis, so `mailconnect trace` and the dashboard's trace page find the message from any relay
 * after BullMQ has forgotten its job.
 *
 * RELAY_TRACE=on|off, default on: "where is this mail?" is the first question an operator is
 * asked, and a trace switched on only afterwards cannot answer it for the mail already sent.
 * It costs one Lua call per line (about three lines per message) and Redis memory for the
 * retention — docs/message-trace.md has the measured figures; RELAY_TRACE_RETENTION (default
 * 30d) sizes it.
 *
 * Best effort: lines are buffered and recorded by a background writer on a fail-fast connection
 * of its own (one retry, 5 s per command), so a slow or absent Redis never fails, refuses or
 * delays mail; lines that could not be recorded are counted (`mc_trace_write_failures_total`,
 * `reason="overflow"` past 50,000 waiting) and logged. On shutdown the lines still in flight get
 * up to 5 s before the connection closes.
 * Sharded over the fleet's `REDIS_SHARDS` tags, each message's record and index entries in its
 * own shard (docs/message-trace.md).
 */
import type { DeliveryLogLine } from "@mailconnect/delivery-log"
import { QueueLayout } from "@mailconnect/delivery-queue"
import { makeBatchingWriter, TraceIndex, type TraceUnavailable } from "@mailconnect/message-trace"
import { parseDuration } from "@mailconnect/policy"
import { Config, ConfigError, Effect, Either, Metric } from "effect"
import { RelayConfig } from "../config"

const writeFailures = Metric.counter("mc_trace_write_failures_total", {
  description: "Delivery-log lines the message trace could not record (Redis unavailable or slow)",
  incremental: true,
})

export const traceConfig = Config.all({
  enabled: Config.string("RELAY_TRACE").pipe(
    Config.withDefault("on"),
    Config.mapOrFail((text) => {
      const value = text.trim().toLowerCase()
      return value === "on" || value === "off"
        ? Either.right(value === "on")
        : Either.left(ConfigError.InvalidData(["RELAY_TRACE"], "must be on or off"))
    }),
  ),
  retentionMs: Config.string("RELAY_TRACE_RETENTION").pipe(
    Config.withDefault("30d"),
    Config.mapOrFail((text) => {
      const ms = parseDuration(text)
      return ms !== undefined && ms > 0
        ? Either.right(ms)
        : Either.left(
            ConfigError.InvalidData(["RELAY_TRACE_RETENTION"], "must be a duration like 30d or 72h"),
          )
    }),
  ),
})

const failed = (lines: number) => (e: TraceUnavailable) =>
  Metric.incrementBy(Metric.tagged(writeFailures, "reason", e.reason), lines).pipe(
    Effect.zipRight(Effect.logWarning("message trace: lines not recorded")),
    Effect.annotateLogs({ lines, reason: e.reason, detail: e.detail }),
  )

const overflowed = Metric.tagged(writeFailures, "reason", "overflow")

/**
 * The trace as a sink of the delivery log (undefined when RELAY_TRACE=off). The returned write
 * only appends to a buffer (`makeBatchingWriter`): it is safe to run synchronously, as the
 * ingress does.
 */
export const traceSink = Effect.gen(function* () {
  const config = yield* traceConfig
  if (!config.enabled) return undefined
  const { relayId } = yield* RelayConfig
  // Sharded like the spool (REDIS_SHARDS): on a Cluster the trace's writes spread over the masters.
  const { shards } = yield* QueueLayout
  const trace = yield* TraceIndex.make({ relay: relayId, retentionMs: config.retentionMs, shards })
  yield* Effect.logInfo("message trace").pipe(
    Effect.annotateLogs({ retentionMs: config.retentionMs, shards }),
  )
  return yield* makeBatchingWriter<DeliveryLogLine>({
    record: (lines) => trace.recordAll(lines).pipe(Effect.catchAll(failed(lines.length))),
    // Lines waiting for the writer at most (Redis far behind); beyond, counted, not logged: a
    // log line per message would add to whatever holds the writer up.
    maxPending: 50_000,
    overflow: Metric.increment(overflowed),
    drainFor: "5 seconds",
  })
})

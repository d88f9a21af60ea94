/**
 * `mailconnect trace [--from A] [--to A] [--message-id ID] [--queue-id ID] [--partner P]
 * [--code CODE] [--since 2d] [--until …] [--limit N] [--json]`: the fleet's message trace
 * (`@mailconnect/message-trace`, written by every relay from its delivery-log lines) — where a
 * message is, and what happened to each recipient, also after its job has left the queue.
 * Filters combine (AND); `--from`/`--to` take an address or a domain; `--since`/`--until` a
 * duration back from now (`2d`, `90m`) or an ISO time. A table, one row per message and
 * recipient, newest first; with `--queue-id` also the message's lines with their TLS evidence;
 * `--json` the records as stored. Redis from `REDIS_URL`, read only.
 * Exit 0 (also when nothing matches); 1 Redis unavailable; 2 usage.
 */
import { Command, Options } from "@effect/cli"
import { FailureCodeSchema, QueueLayout } from "@mailconnect/delivery-queue"
import {
  DEFAULT_RETENTION_MS,
  MAX_LIMIT,
  makeTraceIndex,
  summarize,
  type TraceFilter,
} from "@mailconnect/message-trace"
import { parseDuration } from "@mailconnect/policy"
import { RedisClient } from "@mailconnect/redis-client"
import { Clock, Console, Effect, Layer, Option, Schema } from "effect"
import { CliExit } from "../exit"
import { renderJson, renderTable, renderTimeline } from "./trace-render"

const text = (name: string, description: string) =>
  Options.text(name).pipe(Options.optional, Options.withDescription(description))

const options = {
  from: text("from", "the envelope sender: an address, a domain, or <> for DSNs"),
  to: text("to", "a recipient: an address or a domain"),
  messageId: text("message-id", "the Message-ID header, with or without <>"),
  queueId: text("queue-id", "our queue id (from the 250 reply); also prints the message's lines"),
  partner: text("partner", "mail delivered under this partner's agreement (local: our own domains)"),
  code: text("code", "mail with an attempt that failed with this code (e.g. CERT_EXPIRED)"),
  since: text("since", "newest line at or after: a duration back from now (2d, 90m) or an ISO time"),
  until: text("until", "newest line at or before: a duration back from now or an ISO time"),
  limit: Options.integer("limit").pipe(
    Options.withDefault(50),
    Options.withDescription(`at most this many messages, newest first (up to ${MAX_LIMIT})`),
  ),
  json: Options.boolean("json").pipe(Options.withDescription("print the records as JSON")),
}

const usage = (message: string) => new CliExit({ code: 2, message })
const isFailureCode = Schema.is(FailureCodeSchema)

/** `2d` back from now, or an ISO time. */
const instant = (name: string, value: Option.Option<string>, now: number) => {
  if (Option.isNone(value)) return Effect.succeed(undefined)
  const back = parseDuration(value.value)
  if (back !== undefined) return Effect.succeed(now - back)
  const at = Date.parse(value.value)
  return Number.isNaN(at)
    ? Effect.fail(usage(`--${name}: '${value.value}' is neither a duration (2d, 90m) nor an ISO time`))
    : Effect.succeed(at)
}

export const traceCommand = Command.make("trace", options, (args) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const code = Option.getOrUndefined(args.code)?.trim().toUpperCase()
    if (code !== undefined && !isFailureCode(code))
      return yield* usage(`--code: unknown failure code '${code}'`)
    if (args.limit < 1 || args.limit > MAX_LIMIT) return yield* usage(`--limit: between 1 and ${MAX_LIMIT}`)
    const filter: TraceFilter = {
      from: Option.getOrUndefined(args.from),
      to: Option.getOrUndefined(args.to),
      messageId: Option.getOrUndefined(args.messageId),
      queueId: Option.getOrUndefined(args.queueId),
      partner: Option.getOrUndefined(args.partner),
      code,
      since: yield* instant("since", args.since, now),
      until: yield* instant("until", args.until, now),
      limit: args.limit,
    }
    // A reader: the relay name and retention only matter to writers.
    const { shards } = yield* QueueLayout
    const trace = makeTraceIndex(yield* RedisClient, {
      relay: "cli",
      retentionMs: DEFAULT_RETENTION_MS,
      shards,
    })
    const result = yield* trace
      .search(filter)
      .pipe(
        Effect.mapError(
          (e) => new CliExit({ code: 1, message: `trace unavailable: ${e.reason} (${e.detail})` }),
        ),
      )
    if (args.json) return yield* Console.log(renderJson(result))
    yield* Console.log(renderTable(result))
    if (filter.queueId !== undefined)
      for (const record of result.records)
        yield* Console.log(`\n${renderTimeline(summarize(record), record.lines)}`)
  }).pipe(
    // The fleet's shard count: REDIS_SHARDS, else the layout recorded in Redis.
    Effect.provide(QueueLayout.layer.pipe(Layer.provideMerge(RedisClient.layerFromEnv))),
    Effect.catchTag("ConfigError", (e) => Effect.fail(new CliExit({ code: 1, message: e.message }))),
  ),
).pipe(
  Command.withDescription(
    "Search the fleet's message trace: by sender, recipient, Message-ID, queue id, partner, code and time.",
  ),
)

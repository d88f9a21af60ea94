/**
 * `QueueAudit`: the fleet's record of what operators did to queued mail — who, when, through
 * what (CLI or dashboard), which action with which selection, how many jobs and which. One
 * entry per action in the Redis stream `{prefix}:audit` (XADD MAXLEN ~ 10000: the fleet keeps
 * the recent past in Redis, the processes' logs keep the rest), each also logged as a structured
 * line by the caller's logger (the CLI's stderr, the dashboard's log).
 *
 * Trusts: the Redis named by REDIS_URL. Touches: the `audit` stream only.
 */
import { RedisClient, type RedisCommandError } from "@mailconnect/redis-client"
import { Context, Effect, Layer, Schema } from "effect"
import { QueueUnavailable } from "./errors"
import { failFast } from "./spool"

/** Entries the stream keeps, approximately (MAXLEN ~ trims in whole macro nodes). */
export const AUDIT_KEPT = 10_000

export const AuditEntry = Schema.Struct({
  at: Schema.Number,
  actor: Schema.String,
  via: Schema.Literal("cli", "dashboard"),
  action: Schema.Literal("hold", "release", "retry", "delete", "bounce"),
  /** `ndr` or `silent` for delete. */
  notify: Schema.optional(Schema.Literal("ndr", "silent")),
  reason: Schema.optional(Schema.String),
  /** The selection as given (filters, message ids). */
  selection: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  /** Jobs acted on, and left alone with why. */
  touched: Schema.Number,
  skipped: Schema.Number,
  jobIds: Schema.Array(Schema.String),
  messageIds: Schema.Array(Schema.String),
})
export type AuditEntry = typeof AuditEntry.Type

/** An entry as read back, with its stream id. */
export interface AuditRecord extends AuditEntry {
  readonly id: string
}

const decode = Schema.decodeUnknownOption(Schema.parseJson(AuditEntry))

export interface QueueAuditShape {
  readonly append: (entry: AuditEntry) => Effect.Effect<string, QueueUnavailable>
  /** The newest `count` entries, newest first; an entry that does not decode is left out. */
  readonly recent: (count: number) => Effect.Effect<ReadonlyArray<AuditRecord>, QueueUnavailable>
}

const unavailable = (operation: string) => (e: RedisCommandError) =>
  new QueueUnavailable({ operation, detail: e.detail })

export class QueueAudit extends Context.Tag("@mailconnect/QueueAudit")<QueueAudit, QueueAuditShape>() {
  static layer = Layer.scoped(
    QueueAudit,
    Effect.gen(function* () {
      const redis = yield* RedisClient.connect({ purpose: "queue-audit", ...failFast })
      const key = redis.keys.key("audit")
      const append = (entry: AuditEntry) =>
        redis
          .call("XADD", key, "MAXLEN", "~", String(AUDIT_KEPT), "*", "entry", JSON.stringify(entry))
          .pipe(Effect.map(String), Effect.mapError(unavailable("audit append")))
      const recent = (count: number) =>
        redis.call("XREVRANGE", key, "+", "-", "COUNT", String(count)).pipe(
          Effect.map((reply) =>
            (reply as ReadonlyArray<[string, ReadonlyArray<string>]>).flatMap(([id, fields]) => {
              const at = fields.indexOf("entry")
              const entry = at < 0 ? undefined : decode(fields[at + 1])
              return entry?._tag === "Some" ? [{ id, ...entry.value }] : []
            }),
          ),
          Effect.mapError(unavailable("audit read")),
        )
      return { append, recent }
    }),
  )
}

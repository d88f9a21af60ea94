/**
 * `Spool`: the message spool. Each body is stored once in Redis, shared by all of its delivery
 * jobs, and removed when the last of them ends — never before. Every job id is recorded with the body;
 * a job's end removes its id, and the body goes with the last one. Releasing twice (a stalled
 * job re-run) is harmless.
 *
 * Keys, all under the message's shard tag (`QueueLayout`: `{mc}` for shard 0, `{mc:i}` else),
 * so scripts work on Cluster: `<tag>:spool:<id>` hash (body, sender, headers, arrivalAt),
 * `<tag>:spool:<id>:jobs` set of outstanding job ids, and `<tag>:msgjobs:<id>` (all job ids,
 * kept after delivery for `queue show`). Callers name the shard: the worker and queue commands
 * the shard of the queue the job is in, lookups by id the one `locate` found.
 * The body is written in the same MULTI as its jobs (`storeCommands`, run by `Enqueue` on the
 * queue's connection): never a body without jobs nor jobs without a body. A safety TTL still
 * bounds what a lost release leaves behind to the longest retry period plus a day.
 */
import {
  type LuaScript,
  RedisClient,
  type RedisCommand,
  type RedisCommandError,
} from "@mailconnect/redis-client"
import { Context, Effect, Layer, Option } from "effect"
import { QueueUnavailable } from "./errors"
import type { Alongside } from "./job-record"
import { QueueLayout, type QueueLayoutShape } from "./layout"

const RELEASE: LuaScript = {
  name: "mcSpoolRelease",
  numberOfKeys: 2,
  lua: `
redis.call('SREM', KEYS[2], ARGV[1])
if redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
`,
}

export interface SpooledMessage {
  readonly body: Buffer
  readonly sender: string
  readonly headers: string
  readonly arrivalAt: number
}

export interface SpoolShape {
  /**
   * The commands that store a body and its outstanding job ids, for the caller's MULTI (plain
   * commands, not a script: a script unknown to Redis fails alone inside EXEC, and the jobs
   * beside it would be added without their body).
   */
  readonly storeCommands: (
    shard: number,
    messageId: string,
    message: SpooledMessage,
    jobIds: ReadonlyArray<string>,
    ttlMs: number,
  ) => ReadonlyArray<RedisCommand>
  /** In `shard`; by default the one the id says (a job's own shard is the surer answer). */
  readonly read: (
    messageId: string,
    shard?: number,
  ) => Effect.Effect<Option.Option<SpooledMessage>, QueueUnavailable>
  /**
   * The release as a script to run in the job's record (`job-record.ts`): for a job done with
   * nothing left to send, one round trip less. Best effort there; a release lost leaves the body
   * to its TTL.
   */
  readonly releaseCall: (messageId: string, jobId: string, shard: number) => Alongside
  /** True when this release removed the body (the last job ended). */
  readonly release: (
    messageId: string,
    jobId: string,
    shard: number,
  ) => Effect.Effect<boolean, QueueUnavailable>
  /** The message's shard and all of its job ids, looked for in `lookupOrder`; none when unknown. */
  readonly locate: (
    messageId: string,
  ) => Effect.Effect<
    Option.Option<{ readonly shard: number; readonly jobIds: ReadonlyArray<string> }>,
    QueueUnavailable
  >
  readonly exists: (messageId: string, shard: number) => Effect.Effect<boolean, QueueUnavailable>
}

const unavailable =
  (operation: string) =>
  (e: RedisCommandError): QueueUnavailable =>
    new QueueUnavailable({ operation, detail: e.detail })

export const makeSpool = (redis: RedisClient["Type"], layout: QueueLayoutShape): SpoolShape => {
  const bodyKey = (id: string, shard: number) => layout.key(shard, "spool", id)
  const jobsKey = (id: string, shard: number) => layout.key(shard, "spool", id, "jobs")
  const allJobsKey = (id: string, shard: number) => layout.key(shard, "msgjobs", id)
  const jobIdsIn = (messageId: string, shard: number) =>
    redis
      .get(allJobsKey(messageId, shard))
      .pipe(
        Effect.map(Option.map((text) => ({ shard, jobIds: JSON.parse(text) as ReadonlyArray<string> }))),
        Effect.mapError(unavailable("spool job ids")),
      )
  return {
    storeCommands: (shard, messageId, message, jobIds, ttlMs) => {
      const ttl = Math.max(1, Math.round(ttlMs))
      const body = bodyKey(messageId, shard)
      const jobs = jobsKey(messageId, shard)
      return [
        [
          "HSET",
          body,
          "body",
          message.body,
          "sender",
          message.sender,
          "headers",
          message.headers,
          "arrivalAt",
          message.arrivalAt,
        ],
        ["DEL", jobs],
        ...(jobIds.length > 0 ? [["SADD", jobs, ...jobIds] as const] : []),
        ["PEXPIRE", body, ttl],
        ["PEXPIRE", jobs, ttl],
        ["SET", allJobsKey(messageId, shard), JSON.stringify(jobIds), "PX", ttl],
      ]
    },
    read: (messageId, shard = layout.shardOf(messageId)) =>
      redis.hmgetBuffer(bodyKey(messageId, shard), ["body", "sender", "headers", "arrivalAt"]).pipe(
        Effect.map(([body, sender, headers, arrivalAt]) =>
          body && sender && headers && arrivalAt
            ? Option.some({
                body,
                sender: sender.toString("utf8"),
                headers: headers.toString("utf8"),
                arrivalAt: Number(arrivalAt.toString()),
              })
            : Option.none(),
        ),
        Effect.mapError(unavailable("spool read")),
      ),
    releaseCall: (messageId, jobId, shard) => ({
      script: RELEASE,
      keys: [bodyKey(messageId, shard), jobsKey(messageId, shard)],
      args: [jobId],
    }),
    release: (messageId, jobId, shard) =>
      redis.script(RELEASE, [bodyKey(messageId, shard), jobsKey(messageId, shard)], [jobId]).pipe(
        Effect.map((removed) => removed === 1),
        Effect.mapError(unavailable("spool release")),
      ),
    locate: (messageId) =>
      Effect.gen(function* () {
        for (const shard of layout.lookupOrder(messageId)) {
          const found = yield* jobIdsIn(messageId, shard)
          if (Option.isSome(found)) return found
        }
        return Option.none()
      }),
    exists: (messageId, shard) =>
      redis.exists(bodyKey(messageId, shard)).pipe(Effect.mapError(unavailable("spool exists"))),
  }
}

/** While Redis is away, commands fail after one reconnect attempt or 5 s, whichever comes first. */
export const failFast = { maxRetriesPerRequest: 1, commandTimeoutMs: 5_000, autoPipelining: true } as const

export class Spool extends Context.Tag("@mailconnect/Spool")<Spool, SpoolShape>() {
  /** On a fail-fast connection of its own: the ingress answers 451 rather than wait. */
  static layer = Layer.scoped(
    Spool,
    Effect.gen(function* () {
      const redis = yield* RedisClient.connect({ purpose: "spool", ...failFast })
      return makeSpool(redis, yield* QueueLayout)
    }),
  )
}

/**
 * `Spool`: the message spool. Each body is stored once in Redis, shared by all of its delivery
 * jobs, and removed when the last of them ends — never before. Every job id is recorded with the body;
 * a job's end removes its id, and the body goes with the last one. Releasing twice (a stalled
 * job re-run) is harmless.
 *
 * Keys (one hash tag, so scripts work on Cluster): `{mc}:spool:<id>` hash (body, sender,
 * headers, arrivalAt), `{mc}:spool:<id>:jobs` set of outstanding job ids, and
 * `{mc}:msgjobs:<id>` (all job ids, kept after delivery for `queue show`).
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
    messageId: string,
    message: SpooledMessage,
    jobIds: ReadonlyArray<string>,
    ttlMs: number,
  ) => ReadonlyArray<RedisCommand>
  readonly read: (messageId: string) => Effect.Effect<Option.Option<SpooledMessage>, QueueUnavailable>
  /** True when this release removed the body (the last job ended). */
  readonly release: (messageId: string, jobId: string) => Effect.Effect<boolean, QueueUnavailable>
  readonly jobIds: (messageId: string) => Effect.Effect<ReadonlyArray<string>, QueueUnavailable>
  readonly exists: (messageId: string) => Effect.Effect<boolean, QueueUnavailable>
}

const unavailable =
  (operation: string) =>
  (e: RedisCommandError): QueueUnavailable =>
    new QueueUnavailable({ operation, detail: e.detail })

export const makeSpool = (redis: RedisClient["Type"]): SpoolShape => {
  const bodyKey = (id: string) => redis.keys.key("spool", id)
  const jobsKey = (id: string) => redis.keys.key("spool", id, "jobs")
  const allJobsKey = (id: string) => redis.keys.key("msgjobs", id)
  return {
    storeCommands: (messageId, message, jobIds, ttlMs) => {
      const ttl = Math.max(1, Math.round(ttlMs))
      const body = bodyKey(messageId)
      const jobs = jobsKey(messageId)
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
        ["SET", allJobsKey(messageId), JSON.stringify(jobIds), "PX", ttl],
      ]
    },
    read: (messageId) =>
      redis.hmgetBuffer(bodyKey(messageId), ["body", "sender", "headers", "arrivalAt"]).pipe(
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
    release: (messageId, jobId) =>
      redis.script(RELEASE, [bodyKey(messageId), jobsKey(messageId)], [jobId]).pipe(
        Effect.map((removed) => removed === 1),
        Effect.mapError(unavailable("spool release")),
      ),
    jobIds: (messageId) =>
      redis
        .get(allJobsKey(messageId))
        .pipe(
          Effect.map(
            Option.match({ onNone: () => [], onSome: (text) => JSON.parse(text) as ReadonlyArray<string> }),
          ),
          Effect.mapError(unavailable("spool job ids")),
        ),
    exists: (messageId) =>
      redis.exists(bodyKey(messageId)).pipe(Effect.mapError(unavailable("spool exists"))),
  }
}

/** While Redis is away, commands fail after one reconnect attempt or 5 s, whichever comes first. */
export const failFast = { maxRetriesPerRequest: 1, commandTimeoutMs: 5_000, autoPipelining: true } as const

export class Spool extends Context.Tag("@mailconnect/Spool")<Spool, SpoolShape>() {
  /** On a fail-fast connection of its own: the ingress answers 451 rather than wait. */
  static layer = Layer.scoped(
    Spool,
    Effect.map(RedisClient.connect({ purpose: "spool", ...failFast }), makeSpool),
  )
}

/**
 * The message spool: each body stored once in Redis, shared by all of its delivery jobs, and
 * removed when the last of them ends — never before. Every job id is recorded with the body;
 * a job's end removes its id, and the body goes with the last one. Releasing twice (a stalled
 * job re-run) is harmless.
 *
 * Keys (one hash tag, so scripts work on Cluster): `{mc}:spool:<id>` hash (body, sender,
 * headers, arrivalAt), `{mc}:spool:<id>:jobs` set of outstanding job ids, and
 * `{mc}:msgjobs:<id>` (all job ids, kept after delivery for `queue show`).
 * A safety TTL bounds orphans (a crash between storing and enqueueing) to the longest retry
 * period plus a day.
 */
import type { RedisConnection, RedisKeys } from "@mailconnect/redis-client"
import { Effect, Option } from "effect"
import { QueueUnavailable } from "./errors"

const STORE = `
redis.call('HSET', KEYS[1], 'body', ARGV[1], 'sender', ARGV[2], 'headers', ARGV[3], 'arrivalAt', ARGV[4])
redis.call('DEL', KEYS[2])
for i = 7, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('SET', KEYS[3], ARGV[6], 'PX', ARGV[5])
return 1
`

const RELEASE = `
redis.call('SREM', KEYS[2], ARGV[1])
if redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
`

export interface SpooledMessage {
  readonly body: Buffer
  readonly sender: string
  readonly headers: string
  readonly arrivalAt: number
}

type Scripted = RedisConnection & {
  mcSpoolStore: (...args: ReadonlyArray<string | Buffer | number>) => Promise<number>
  mcSpoolRelease: (...args: ReadonlyArray<string>) => Promise<number>
}

export interface Spool {
  readonly store: (
    messageId: string,
    message: SpooledMessage,
    jobIds: ReadonlyArray<string>,
    ttlMs: number,
  ) => Effect.Effect<void, QueueUnavailable>
  readonly read: (messageId: string) => Effect.Effect<Option.Option<SpooledMessage>, QueueUnavailable>
  /** True when this release removed the body (the last job ended). */
  readonly release: (messageId: string, jobId: string) => Effect.Effect<boolean, QueueUnavailable>
  readonly jobIds: (messageId: string) => Effect.Effect<ReadonlyArray<string>, QueueUnavailable>
  readonly exists: (messageId: string) => Effect.Effect<boolean, QueueUnavailable>
}

const unavailable = (operation: string) => (e: unknown) =>
  new QueueUnavailable({ operation, detail: e instanceof Error ? e.message : String(e) })

export const makeSpool = (redis: RedisConnection, keys: RedisKeys): Spool => {
  redis.defineCommand("mcSpoolStore", { numberOfKeys: 3, lua: STORE })
  redis.defineCommand("mcSpoolRelease", { numberOfKeys: 2, lua: RELEASE })
  const scripted = redis as Scripted
  const bodyKey = (id: string) => keys.key("spool", id)
  const jobsKey = (id: string) => keys.key("spool", id, "jobs")
  const allJobsKey = (id: string) => keys.key("msgjobs", id)
  return {
    store: (messageId, message, jobIds, ttlMs) =>
      Effect.tryPromise({
        try: () =>
          scripted.mcSpoolStore(
            bodyKey(messageId),
            jobsKey(messageId),
            allJobsKey(messageId),
            message.body,
            message.sender,
            message.headers,
            String(message.arrivalAt),
            String(Math.max(1, Math.round(ttlMs))),
            JSON.stringify(jobIds),
            ...jobIds,
          ),
        catch: unavailable("spool store"),
      }).pipe(Effect.asVoid),
    read: (messageId) =>
      Effect.tryPromise({
        try: () => redis.hmgetBuffer(bodyKey(messageId), "body", "sender", "headers", "arrivalAt"),
        catch: unavailable("spool read"),
      }).pipe(
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
      ),
    release: (messageId, jobId) =>
      Effect.tryPromise({
        try: () => scripted.mcSpoolRelease(bodyKey(messageId), jobsKey(messageId), jobId),
        catch: unavailable("spool release"),
      }).pipe(Effect.map((removed) => removed === 1)),
    jobIds: (messageId) =>
      Effect.tryPromise({
        try: () => redis.get(allJobsKey(messageId)),
        catch: unavailable("spool job ids"),
      }).pipe(Effect.map((text) => (text ? (JSON.parse(text) as ReadonlyArray<string>) : []))),
    exists: (messageId) =>
      Effect.tryPromise({
        try: () => redis.exists(bodyKey(messageId)),
        catch: unavailable("spool exists"),
      }).pipe(Effect.map((n) => n === 1)),
  }
}

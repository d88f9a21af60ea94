/**
 * An attempt's record in the job: its data (every recipient's result, the DSNs owed) and its
 * line in the job log, in one script on the job's own connection — what BullMQ's
 * `job.updateData` and `job.log` do, in one round trip instead of two (each of them checks the
 * job exists, then writes). Keys as BullMQ names them (`Queue#toKey`: the job hash and its
 * `:logs` list), so bull-board and `queue show` read them as before. A job removed meanwhile (an
 * operator's `queue delete`) fails the call as BullMQ's own would, and nothing is written.
 *
 * Trusts: the job's queue connection. Touches: the job's hash and its log.
 */
import { createHash } from "node:crypto"
import type { Job } from "bullmq"

const LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'data', ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[2])
return 1
`
const SHA = createHash("sha1").update(LUA).digest("hex")

interface ScriptClient {
  readonly evalsha: (sha: string, keys: number, ...args: ReadonlyArray<string>) => Promise<unknown>
  readonly eval: (lua: string, keys: number, ...args: ReadonlyArray<string>) => Promise<unknown>
}

const isNoScript = (e: unknown) => e instanceof Error && e.message.startsWith("NOSCRIPT")

/** What the script needs of the BullMQ `Worker` that runs the job: its connection and key names. */
export interface JobQueueOf {
  readonly backend: { readonly client: Promise<unknown> }
  readonly toKey: (type: string) => string
}

/** Writes `data` into the job and appends `line` to its log; the job's `data` is `data` after. */
export const recordInJob = async (
  queue: JobQueueOf,
  job: Job,
  data: unknown,
  line: string,
): Promise<void> => {
  const client = (await queue.backend.client) as ScriptClient
  const key = queue.toKey(job.id ?? "")
  const args = [key, `${key}:logs`, JSON.stringify(data), line] as const
  const result = await client
    .evalsha(SHA, 2, ...args)
    .catch((e: unknown) => (isNoScript(e) ? client.eval(LUA, 2, ...args) : Promise.reject(e)))
  if (result === -1) throw new Error(`Missing key for job ${job.id}. recordInJob`)
  job.data = data
}

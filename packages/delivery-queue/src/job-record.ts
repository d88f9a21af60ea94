/**
 * An attempt's record in the job: its data (every recipient's result, the DSNs owed) and its
 * line in the job log, in one script on the job's own connection — what BullMQ's
 * `job.updateData` and `job.log` do, in one round trip instead of two (each of them checks the
 * job exists, then writes). Keys as BullMQ names them (`Queue#toKey`: the job hash and its
 * `:logs` list), so bull-board and `queue show` read them as before. A job removed meanwhile (an
 * operator's `queue delete`) fails the call as BullMQ's own would, and nothing is written.
 *
 * Another script of the same shard can ride along (`alongside`: the delivery statistics of the
 * outcome, `stats.ts › RECORD`), run after the record in the same call — one round trip and one
 * script less per attempt. It stays best effort: run under `pcall`, an error of its own (a key of
 * the wrong type a Redis writer left) neither fails nor undoes the record.
 *
 * Trusts: the job's queue connection. Touches: the job's hash and its log (and what `alongside`
 * touches, all under the job's shard tag).
 */
import { createHash } from "node:crypto"
import type { LuaScript } from "@mailconnect/redis-client"
import type { Job } from "bullmq"

const RECORD = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'data', ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[2])
`

interface Script {
  readonly lua: string
  readonly sha: string
}

const scriptOf = (lua: string): Script => ({ lua, sha: createHash("sha1").update(lua).digest("hex") })

const ALONE = scriptOf(`${RECORD}return 1\n`)

/** The record, then `also`'s body as a function of its own KEYS and ARGV (after the record's 2 and 2). */
const withAlongside = new Map<string, Script>()
const combined = (also: LuaScript): Script => {
  let script = withAlongside.get(also.name)
  if (script === undefined) {
    script = scriptOf(`local function alongside(KEYS, ARGV)
${also.lua}
end
${RECORD}pcall(alongside, { unpack(KEYS, 3) }, { unpack(ARGV, 3) })
return 1
`)
    withAlongside.set(also.name, script)
  }
  return script
}

/** A script to run in the same call as the record, with its keys (the job's shard) and arguments. */
export interface Alongside {
  readonly script: LuaScript
  readonly keys: ReadonlyArray<string>
  readonly args: ReadonlyArray<string | number>
}

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

/**
 * Writes `data` into the job and appends `line` to its log (then runs `alongside`, best effort);
 * the job's `data` is `data` after.
 */
export const recordInJob = async (
  queue: JobQueueOf,
  job: Job,
  data: unknown,
  line: string,
  alongside?: Alongside,
): Promise<void> => {
  const client = (await queue.backend.client) as ScriptClient
  const key = queue.toKey(job.id ?? "")
  const script = alongside === undefined ? ALONE : combined(alongside.script)
  const keys = [key, `${key}:logs`, ...(alongside?.keys ?? [])]
  const args = [...keys, JSON.stringify(data), line, ...(alongside?.args ?? []).map(String)]
  const result = await client
    .evalsha(script.sha, keys.length, ...args)
    .catch((e: unknown) =>
      isNoScript(e) ? client.eval(script.lua, keys.length, ...args) : Promise.reject(e),
    )
  if (result === -1) throw new Error(`Missing key for job ${job.id}. recordInJob`)
  job.data = data
}

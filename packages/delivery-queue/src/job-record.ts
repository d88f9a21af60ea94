/**
 * An attempt's record in the job: its data (every recipient's result, the DSNs owed) and its
 * line in the job log, in one script on the job's own connection — what BullMQ's
 * `job.updateData` and `job.log` do, in one round trip instead of two (each of them checks the
 * job exists, then writes). Keys as BullMQ names them (`Queue#toKey`: the job hash and its
 * `:logs` list), so bull-board and `queue show` read them as before. A job removed meanwhile (an
 * operator's `queue delete`) fails the call as BullMQ's own would, and nothing is written.
 *
 * Other scripts of the same shard can ride along (`alongside`: the delivery statistics of the
 * outcome, `stats.ts › RECORD`; the spool release of a job that is done, `spool.ts › RELEASE`),
 * run after the record in the same call, in order — one round trip and one script less for each.
 * Each stays best effort: run under `pcall`, an error of its own (a key of the wrong type a Redis
 * writer left) neither fails nor undoes the record, nor keeps the next one from running. A
 * release lost that way leaves the body to its TTL, as a release lost to a crash does.
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

/**
 * The record, then each script's body as a function of its own KEYS and ARGV. Arguments: the
 * record's 2, then every script's number of keys and of arguments, then their arguments in turn.
 */
const withAlongside = new Map<string, Script>()
const combined = (also: ReadonlyArray<LuaScript>): Script => {
  const name = also.map((script) => script.name).join(" ")
  let script = withAlongside.get(name)
  if (script === undefined) {
    const functions = also.map((s, i) => `local function alongside${i}(KEYS, ARGV)\n${s.lua}\nend\n`)
    const calls = also.map(
      (_, i) => `do
  local nk, na = tonumber(ARGV[${3 + 2 * i}]), tonumber(ARGV[${4 + 2 * i}])
  pcall(alongside${i}, { unpack(KEYS, k, k + nk - 1) }, { unpack(ARGV, a, a + na - 1) })
  k, a = k + nk, a + na
end
`,
    )
    script = scriptOf(
      `${functions.join("")}${RECORD}local k, a = 3, ${3 + 2 * also.length}\n${calls.join("")}return 1\n`,
    )
    withAlongside.set(name, script)
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
 * Writes `data` into the job and appends `line` to its log (then runs each of `alongside`, best
 * effort); the job's `data` is `data` after.
 */
export const recordInJob = async (
  queue: JobQueueOf,
  job: Job,
  data: unknown,
  line: string,
  alongside: ReadonlyArray<Alongside> = [],
): Promise<void> => {
  const client = (await queue.backend.client) as ScriptClient
  const key = queue.toKey(job.id ?? "")
  const script = alongside.length === 0 ? ALONE : combined(alongside.map((also) => also.script))
  const keys = [key, `${key}:logs`, ...alongside.flatMap((also) => also.keys)]
  const args = [
    ...keys,
    JSON.stringify(data),
    line,
    ...alongside.flatMap((also) => [String(also.keys.length), String(also.args.length)]),
    ...alongside.flatMap((also) => also.args.map(String)),
  ]
  const result = await client
    .evalsha(script.sha, keys.length, ...args)
    .catch((e: unknown) =>
      isNoScript(e) ? client.eval(script.lua, keys.length, ...args) : Promise.reject(e),
    )
  if (result === -1) throw new Error(`Missing key for job ${job.id}. recordInJob`)
  job.data = data
}

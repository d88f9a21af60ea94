/**
 * What Redis holds of a message the soak could not settle, for the log of a failed run: every key
 * named after its queue id (the spool hash's fields without the body, the job hashes without
 * their data, the job logs), and which BullMQ state each of its jobs is in (wait, active,
 * delayed, completed, failed, prioritized, paused) with the failed reason. A run that lost mail
 * then says where it stopped, not only that it did (session 7 had to re-run the soak to learn
 * that `s-22` sat in the failed set as "job stalled more than allowable limit").
 */
import { redisCommand } from "@mailconnect/test-redis"

type Reply = Awaited<ReturnType<typeof redisCommand>>

const strings = (reply: Reply): ReadonlyArray<string> =>
  Array.isArray(reply) ? reply.map((r) => (typeof r === "string" ? r : String(r))) : []

const keysMatching = async (port: number, pattern: string): Promise<ReadonlyArray<string>> => {
  const found: Array<string> = []
  let cursor = "0"
  do {
    const reply = (await redisCommand(
      port,
      "SCAN",
      cursor,
      "MATCH",
      pattern,
      "COUNT",
      "1000",
    )) as Array<Reply>
    cursor = String(reply[0])
    found.push(...strings(reply[1] ?? []))
  } while (cursor !== "0")
  return found.sort()
}

const shown = (fields: ReadonlyArray<string>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!
    const value = fields[i + 1]!
    out[name] = name === "body" || name === "data" ? `(${value.length} bytes)` : value.slice(0, 300)
  }
  return out
}

const STATES = ["wait", "active", "paused", "prioritized", "delayed", "completed", "failed"] as const

/** The BullMQ states `jobId` is in, found through its queue's keys (`<prefix>:delivery:<state>`). */
const statesOf = async (port: number, queueKey: string, jobId: string): Promise<ReadonlyArray<string>> => {
  const states: Array<string> = []
  for (const state of STATES) {
    const key = `${queueKey}:${state}`
    const type = String(await redisCommand(port, "TYPE", key))
    const member =
      type === "list"
        ? (await redisCommand(port, "LPOS", key, jobId)) !== null
        : type === "zset"
          ? (await redisCommand(port, "ZSCORE", key, jobId)) !== null
          : false
    if (member) states.push(state)
  }
  return states
}

/** One line per key of each unsettled message (best effort: a failure to look is reported, not thrown). */
export const describeUnsettled = async (
  port: number,
  queueIds: ReadonlyArray<string>,
): Promise<ReadonlyArray<string>> => {
  const lines: Array<string> = []
  for (const queueId of queueIds) {
    try {
      const keys = await keysMatching(port, `*${queueId}*`)
      if (keys.length === 0) lines.push(`${queueId}: no key in Redis`)
      for (const key of keys) {
        const type = String(await redisCommand(port, "TYPE", key))
        if (type === "hash") {
          const fields = shown(strings(await redisCommand(port, "HGETALL", key)))
          const job = /^(.*:delivery):([^:]+)$/.exec(key)
          const states = job ? await statesOf(port, job[1]!, job[2]!) : []
          lines.push(
            `${key}: ${JSON.stringify(fields)}${job ? ` states=${states.join(",") || "(none)"}` : ""}`,
          )
        } else if (type === "list") {
          lines.push(`${key}: ${JSON.stringify(strings(await redisCommand(port, "LRANGE", key, "0", "-1")))}`)
        } else lines.push(`${key}: ${type}`)
      }
    } catch (e) {
      lines.push(`${queueId}: could not look (${e instanceof Error ? e.message : String(e)})`)
    }
  }
  return lines
}

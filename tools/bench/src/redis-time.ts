/**
 * Where a Redis spends its time, by command and by script (`pnpm bench --redis-time`): while a
 * suite runs, every command is logged in Redis's SLOWLOG (threshold 0) and drained four times a
 * second. A script is named by its keys — the hash tag and ids taken out — and key count, e.g.
 * `evalsha delivery:wait,delivery:active,… (14 keys)` (BullMQ's moveToFinished), so BullMQ's
 * scripts and ours are told apart where `INFO commandstats` has one `evalsha` line for all.
 *
 * The durations are Redis's own: the wall-clock time a command ran, which on a busy machine also
 * counts time Redis waited for a core; and a script's or a transaction's time includes the
 * commands it ran, which are listed again under their own names. Read them as shares.
 */
import { Redis } from "ioredis"

export interface TimeSpent {
  readonly calls: number
  readonly usec: number
}

export interface RedisTimeSampler {
  /** Stops sampling, puts the SLOWLOG settings back, and gives the time per signature, most first. */
  readonly stop: () => Promise<ReadonlyArray<readonly [string, TimeSpent]>>
}

const NAME = "bench-redis-time"

/** A command's name; a script's also its keys, with tags, ids, addresses and numbers generalised. */
export const signatureOf = (args: ReadonlyArray<string>): string => {
  const name = (args[0] ?? "").toLowerCase()
  if (name !== "evalsha" && name !== "eval" && name !== "fcall") return name
  const count = Number(args[2])
  const keys = args.slice(3, 3 + count).map((key) =>
    key
      .replace(/^\{[^}]*\}:?/, "")
      .replace(/[0-9a-z]{8}-[0-9a-f]{12}|[0-9a-f-]{20,}/g, "<id>")
      .replace(/[^:|]*@[^:|]*/g, "<address>")
      .replace(/\d{3,}/g, "<n>"),
  )
  return `${name} ${keys.slice(0, 4).join(",")}${keys.length > 4 ? ",…" : ""} (${count} keys)`
}

type Entry = readonly [number, number, number, ReadonlyArray<string>, string, string]

export const sampleRedisTime = async (port: number): Promise<RedisTimeSampler> => {
  const client = new Redis({ host: "127.0.0.1", port, connectionName: NAME, maxRetriesPerRequest: 1 })
  const settings = (await client.config("GET", "slowlog-*")) as ReadonlyArray<string>
  await client.config("SET", "slowlog-log-slower-than", "0")
  await client.config("SET", "slowlog-max-len", "200000")
  await client.slowlog("RESET")
  const spent = new Map<string, { calls: number; usec: number }>()
  const drain = async () => {
    // GET and RESET in one transaction: nothing is logged between them.
    const replies = await client.multi().slowlog("GET", "-1").slowlog("RESET").exec()
    for (const [, , usec, args, , clientName] of (replies?.[0]?.[1] ?? []) as ReadonlyArray<Entry>) {
      if (clientName === NAME) continue
      const signature = signatureOf(args.map(String))
      const kept = spent.get(signature) ?? { calls: 0, usec: 0 }
      kept.calls++
      kept.usec += Number(usec)
      spent.set(signature, kept)
    }
  }
  let stopped = false
  const loop = async (): Promise<void> => {
    while (!stopped) {
      await drain().catch(() => undefined)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
  const running = loop()
  return {
    stop: async () => {
      stopped = true
      await running
      await drain()
      for (let i = 0; i + 1 < settings.length; i += 2)
        await client.config("SET", settings[i]!, settings[i + 1]!)
      client.disconnect()
      return [...spent].sort((a, b) => b[1].usec - a[1].usec)
    },
  }
}

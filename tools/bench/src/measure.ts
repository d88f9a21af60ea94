/**
 * What the benchmark suites measure, read from Linux /proc and from Redis itself (`redis-cli`):
 * CPU time and memory of a process, Redis's command counts, and its durability setting.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { waitFor } from "@mailconnect/test-support"

/** User + system CPU seconds a process has used so far (Linux /proc). */
export const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/**
 * Read and write system calls a process (all its threads) has made so far (Linux /proc/<pid>/io):
 * each socket write is one, so a reply batched with others, or a command pipelined, shows here
 * as a count that does not depend on the machine's speed.
 */
export const syscalls = (pid: number): { reads: number; writes: number } => {
  const io = readFileSync(`/proc/${pid}/io`, "utf8")
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(io)?.[1] ?? Number.NaN)
  return { reads: field("syscr"), writes: field("syscw") }
}

export const redisCli = (port: number, ...args: ReadonlyArray<string>): string =>
  execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  })

/** The `<field>=<n>` of each `<prefix><name>:…` line of an INFO section, by name. */
const countsIn = (port: number, section: string, prefix: string, field: string): Map<string, number> => {
  const stats = new Map<string, number>()
  for (const match of redisCli(port, "INFO", section).matchAll(
    new RegExp(`^${prefix}([^:]+):(?:[^\\n]*,)?${field}=(\\d+)`, "gm"),
  ))
    stats.set(match[1]!, Number(match[2]))
  return stats
}

/** The counters that grew since `before` (an earlier reading of the same INFO counters), by how much. */
export const grownSince = (now: Map<string, number>, before: Map<string, number>) =>
  [...now]
    .map(([name, count]) => [name, count - (before.get(name) ?? 0)] as const)
    .filter(([, count]) => count > 0)

/** Calls per Redis command so far (`INFO commandstats`). */
export const commandStats = (port: number): Map<string, number> =>
  countsIn(port, "commandstats", "cmdstat_", "calls")

/**
 * Microseconds Redis spent running each command so far (`INFO commandstats` usec). A script's or
 * a transaction's time (`evalsha`, `exec`) includes the commands it ran, which are counted
 * under their own names as well.
 */
export const commandTime = (port: number): Map<string, number> =>
  countsIn(port, "commandstats", "cmdstat_", "usec")

/** Error replies a Redis sent since its start, by kind (`INFO errorstats`: MOVED, ASK, NOSCRIPT…). */
export const errorStats = (port: number): Map<string, number> =>
  countsIn(port, "errorstats", "errorstat_", "count")

/**
 * Calls per Redis command answered with an error: refused before it ran (`rejected`: wrong
 * arguments, a key of another slot…) or failed while running (`failed`), from `INFO commandstats`.
 */
export const failedCalls = (port: number): Map<string, number> => {
  const calls = new Map<string, number>()
  for (const kind of ["rejected", "failed"])
    for (const [name, n] of countsIn(port, "commandstats", "cmdstat_", `${kind}_calls`))
      if (n > 0) calls.set(`${name} ${kind}`, n)
  return calls
}

export const infoField = (port: number, section: string, field: string): string =>
  new RegExp(`^${field}:(.*)$`, "m").exec(redisCli(port, "INFO", section))?.[1]?.trim() ?? ""

/**
 * Puts Redis on the durability setting asked for and waits until an AOF it had to write is
 * complete, then says what it runs on, read back from Redis itself.
 */
export const setDurability = async (port: number, durability: string): Promise<string> => {
  if (durability !== "none") {
    redisCli(port, "CONFIG", "SET", "appendfsync", durability)
    redisCli(port, "CONFIG", "SET", "appendonly", "yes")
    await waitFor(
      "AOF on",
      () =>
        infoField(port, "persistence", "aof_enabled") === "1" &&
        infoField(port, "persistence", "aof_rewrite_in_progress") === "0" &&
        infoField(port, "persistence", "aof_rewrite_scheduled") === "0"
          ? true
          : undefined,
      60_000,
    )
  }
  return describeDurability(port)
}

/** What Redis persists, read back from Redis itself: appendonly, appendfsync, save. */
export const describeDurability = (port: number): string => {
  const get = (name: string) => redisCli(port, "CONFIG", "GET", name).split("\n")[1]?.trim() ?? ""
  const aof = get("appendonly")
  return `Redis appendonly ${aof}${aof === "yes" ? `, appendfsync ${get("appendfsync")}` : ""}, save "${get("save")}"`
}

/** The server's own pid (`INFO server`), for its CPU time. */
export const redisPid = (port: number): number => Number(infoField(port, "server", "process_id"))

/** Resident set size of a process now (VmRSS) and at its peak (VmHWM), in MiB. */
export const rss = (pid: number): { now: number; peak: number } => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const field = (name: string) =>
    Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) / 1024
  return { now: field("VmRSS"), peak: field("VmHWM") }
}

/**
 * A relay's own account of its memory (its /metrics): V8 heap used and reserved, and memory
 * outside the heap, in MiB — set beside its RSS, it tells live objects from allocator slack.
 */
export const relayMemory = async (relay: {
  readonly metrics: () => Promise<ReadonlyMap<string, number>>
}): Promise<string> => {
  const metrics = await relay.metrics()
  const mib = (name: string) => ((metrics.get(name) ?? Number.NaN) / 1024 / 1024).toFixed(0)
  return `${mib("nodejs_heap_size_used_bytes")} / ${mib("nodejs_heap_size_total_bytes")} / ${mib("nodejs_external_memory_bytes")}`
}

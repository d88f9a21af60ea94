/**
 * The relay's real process, found by its environment (relay id + key prefix) in /proc. A crash
 * test must SIGKILL the process that holds the sockets: under the tsx CLI that is a child the
 * CLI cannot pass SIGKILL on to (it kept answering SMTP for a while), under `node --import tsx`
 * it is the spawned process itself. Looking it up covers both, and gives its RSS.
 */
import { readdirSync, readFileSync } from "node:fs"
import { type SmtpRelay, waitFor } from "@mailconnect/test-support"

const environ = (pid: string): string => {
  try {
    return readFileSync(`/proc/${pid}/environ`, "latin1")
  } catch {
    return ""
  }
}

/** Pids (the tsx CLI and the node running the relay) whose environment names this relay. */
export const relayPids = (relayId: string, prefix: string): Array<number> =>
  readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
    .filter((pid) => {
      const env = `\0${environ(pid)}`
      return env.includes(`\0RELAY_ID=${relayId}\0`) && env.includes(`\0REDIS_PREFIX=${prefix}\0`)
    })
    .map(Number)

/** SIGKILL of every process of this relay (the code runner first), as a power cut would. */
export const hardKill = async (relay: SmtpRelay, prefix: string): Promise<void> => {
  for (const pid of relayPids(relay.id, prefix).reverse()) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // Already gone.
    }
  }
  await relay.stop("SIGKILL")
  await waitFor(
    `relay ${relay.id} to be gone after SIGKILL`,
    () => relayPids(relay.id, prefix).length === 0,
    {
      timeoutMs: 10_000,
      intervalMs: 20,
    },
  )
}

/** Resident set size of the relay's largest process (the one running the relay), in bytes. */
export const relayRss = (relayId: string, prefix: string): number => {
  let max = 0
  for (const pid of relayPids(relayId, prefix)) {
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]
      max = Math.max(max, Number(kb ?? 0) * 1024)
    } catch {
      // Exited meanwhile.
    }
  }
  return max
}

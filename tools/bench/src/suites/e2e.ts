/**
 * End to end: submission (STARTTLS + AUTH) → relay process → the partner lab's `good` server
 * under enforced, verified TLS. Reports messages per second from first submission to last
 * delivery, acceptance latency (time to the 250 after DATA) p50/p99, and the relay's peak RSS.
 * The client keeps a pool of SMTP connections, as a busy mail program or upstream MTA would.
 * Compare: a Postfix tuned with TLS connection reuse relays about 220 messages/s of 4 KB here.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { labPartner, policyOf, startStack, waitFor } from "@mailconnect/test-support"
import nodemailer from "nodemailer"
import { type BenchSuite, percentile, report } from "../suite"

const MESSAGES = Number(process.env.BENCH_E2E_MESSAGES ?? 2_000)
const CONNECTIONS = Number(process.env.BENCH_E2E_CONNECTIONS ?? 16)
const SPLIT = process.env.BENCH_E2E_SPLIT === "1"
const BODY = `${"x".repeat(78)}\r\n`.repeat(50)

/** User + system CPU seconds a process has used so far (Linux /proc). */
const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Calls per Redis command so far (`INFO commandstats`), read with redis-cli. */
const commandStats = (host: string, port: number): Map<string, number> => {
  const info = execFileSync("redis-cli", ["-h", host, "-p", String(port), "INFO", "commandstats"], {
    encoding: "utf8",
  })
  const stats = new Map<string, number>()
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) stats.set(match[1]!, Number(match[2]))
  return stats
}

/** Peak resident set size of a process (Linux VmHWM), in MiB. */
const peakRss = (pid: number): number => {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  return match ? Number(match[1]) / 1024 : Number.NaN
}

const suite: BenchSuite = {
  name: "end to end (submission → relay → enforced TLS partner)",
  run: async () => {
    const stack = await startStack(["good"])
    // Stopped also when a relay fails to start: the stack's Redis and lab must not outlive the run.
    try {
      const good = stack.partners.scenario("good")
      await stack.publish(
        policyOf([labPartner(stack.partners, "bank", "good")], { host: good.host, port: good.port }),
        1,
      )
      const tuning = { RELAY_DELIVERY_CONCURRENCY: "64", RELAY_DESTINATION_CONCURRENCY: "16" }
      // Split roles: one ingress-only and one delivery-only process, so each side's CPU shows.
      const relay = await stack.startRelay("bench-relay", {
        ...tuning,
        ...(SPLIT ? { RELAY_ROLES: "ingress" } : {}),
      })
      const worker = SPLIT
        ? await stack.startRelay("bench-worker", { ...tuning, RELAY_ROLES: "delivery" })
        : undefined
      try {
        await waitFor("relay ready", async () => (await relay.ready())?.status === 200)
        if (worker) await waitFor("worker ready", async () => (await worker.ready())?.status === 200)
        const beats = await stack.lab.heartbeats()
        const pid = beats.find((h) => h.relayId === "bench-relay")!.pid
        const workerPid = worker ? beats.find((h) => h.relayId === "bench-worker")!.pid : undefined
        const transport = nodemailer.createTransport({
          pool: true,
          maxConnections: CONNECTIONS,
          maxMessages: Number.POSITIVE_INFINITY,
          host: "127.0.0.1",
          port: relay.submissionPort,
          requireTLS: true,
          tls: { ca: stack.relayCa, servername: "relay.test" },
          auth: { user: "alice", pass: "a long test password" },
        })
        const before = good.recorder.messages().length
        const { host: redisHost, port: redisPort } = stack.lab.redis
        const commandsBefore = commandStats(redisHost, redisPort)
        const cpuBefore = cpuSeconds(pid)
        const workerCpuBefore = workerPid ? cpuSeconds(workerPid) : 0
        const latencies: Array<number> = []
        let failures = 0
        const started = performance.now()
        let next = 0
        const sender = async () => {
          while (next < MESSAGES) {
            const i = next++
            const t = performance.now()
            try {
              await transport.sendMail({
                envelope: { from: "alice@customer.example", to: [`user${i}@bank.example`] },
                raw: `From: alice@customer.example\r\nTo: user${i}@bank.example\r\nSubject: bench ${i}\r\n\r\n${BODY}`,
              })
              latencies.push(performance.now() - t)
            } catch {
              failures++
            }
          }
        }
        await Promise.all(Array.from({ length: CONNECTIONS * 2 }, sender))
        const accepted = performance.now() - started
        await waitFor(
          "all delivered",
          () => (good.recorder.messages().length - before >= MESSAGES - failures ? true : undefined),
          600_000,
        )
        const total = performance.now() - started
        const cpu = cpuSeconds(pid) - cpuBefore
        const workerCpu = workerPid ? cpuSeconds(workerPid) - workerCpuBefore : 0
        const commands = [...commandStats(redisHost, redisPort)]
          .map(([name, calls]) => [name, calls - (commandsBefore.get(name) ?? 0)] as const)
          .filter(([, calls]) => calls > 0)
          .sort((a, b) => b[1] - a[1])
        transport.close()
        report("messages (4 KB)", MESSAGES)
        report("client connections", CONNECTIONS)
        report("refused or failed submissions", failures)
        report("acceptance rate", (MESSAGES / accepted) * 1000, "msg/s")
        report("end-to-end rate (first submit → last delivery)", (MESSAGES / total) * 1000, "msg/s")
        report("acceptance latency p50", percentile(latencies, 50), "ms")
        report("acceptance latency p99", percentile(latencies, 99), "ms")
        if (workerPid) {
          report("ingress relay CPU per message", (cpu / MESSAGES) * 1000, "ms")
          report("delivery relay CPU per message", (workerCpu / MESSAGES) * 1000, "ms")
        } else report("relay CPU per message (ingress + delivery)", (cpu / MESSAGES) * 1000, "ms")
        report("relay peak RSS", peakRss(pid), "MiB")
        // Includes the heartbeats and policy polls of the run, a few per second.
        const perMessage = (n: number) => Math.round((n / MESSAGES) * 100) / 100
        report("Redis commands per message", perMessage(commands.reduce((sum, [, calls]) => sum + calls, 0)))
        report(
          "  of which",
          commands
            .slice(0, 8)
            .map(([name, calls]) => `${name} ${perMessage(calls)}`)
            .join(", "),
        )
      } finally {
        await relay.stop("SIGTERM")
        await worker?.stop("SIGTERM")
      }
    } finally {
      await stack.stop()
    }
  },
}

export default suite

/**
 * End to end: submission (STARTTLS + AUTH) → relay processes → the partner lab's `good` server
 * under enforced, verified TLS. Reports messages per second from first submission to last
 * delivery, acceptance latency (time to the 250 after DATA) p50/p99, CPU per message of the
 * relays and of Redis, and each relay's peak RSS — on the Redis durability setting it names.
 *
 * Settings (environment):
 * - BENCH_E2E_MESSAGES (2,000), BENCH_E2E_CONNECTIONS (16 client connections in all);
 * - BENCH_E2E_RELAYS (2: one relay process per core, each with both roles; the clients spread
 *   over them), or BENCH_E2E_SPLIT=1 for one ingress-only and one delivery-only process;
 * - BENCH_E2E_DURABILITY: `always` (default: AOF, fsync before every reply — what survives a
 *   Redis crash), `everysec`, or `none` (no persistence, as the tests run Redis);
 * - BENCH_E2E_PER_CONNECTION=1: one message per connection (connect, STARTTLS, AUTH, one
 *   message, QUIT), as many applications submit;
 * - BENCH_E2E_RELAY_ENV="NAME=value,…": extra settings for every relay (e.g. RELAY_TRACE=off, to
 *   see what a feature costs);
 * - BENCH_E2E_MONITOR=<file>: Redis `MONITOR` output of the measured run into that file (slows
 *   Redis down: for counting round trips and commands, not for the figures).
 */
import { spawn } from "node:child_process"
import { openSync } from "node:fs"
import { labPartner, policyOf, startStack, waitFor } from "@mailconnect/test-support"
import { submissionClient } from "../clients"
import { printHeapSnapshot, takeHeapSnapshot } from "../heap-snapshot"
import {
  commandStats,
  commandTime,
  cpuSeconds,
  grownSince,
  infoField,
  relayMemory,
  rss,
  setDurability,
  syscalls,
} from "../measure"
import { sampleRedisTime } from "../redis-time"
import { type BenchSuite, percentile, report } from "../suite"

const MESSAGES = Number(process.env.BENCH_E2E_MESSAGES ?? 2_000)
const CONNECTIONS = Number(process.env.BENCH_E2E_CONNECTIONS ?? 16)
const SPLIT = process.env.BENCH_E2E_SPLIT === "1"
const RELAYS = SPLIT ? 1 : Number(process.env.BENCH_E2E_RELAYS ?? 2)
const DURABILITY = process.env.BENCH_E2E_DURABILITY ?? "always"
const PER_CONNECTION = process.env.BENCH_E2E_PER_CONNECTION === "1"
const RELAY_ENV = Object.fromEntries(
  (process.env.BENCH_E2E_RELAY_ENV ?? "")
    .split(",")
    .filter((pair) => pair.includes("="))
    .map((pair) => [pair.slice(0, pair.indexOf("=")).trim(), pair.slice(pair.indexOf("=") + 1).trim()]),
)
const BODY = `${"x".repeat(78)}\r\n`.repeat(50)

const suite: BenchSuite = {
  name: `end to end (submission → relay → enforced TLS partner${PER_CONNECTION ? ", a connection per message" : ""})`,
  run: async () => {
    const stack = await startStack(["good"])
    // Stopped also when a relay fails to start: the stack's Redis and lab must not outlive the run.
    try {
      const good = stack.partners.scenario("good")
      await stack.publish(
        policyOf([labPartner(stack.partners, "bank", "good")], { host: good.host, port: good.port }),
        1,
      )
      const redisPort = stack.lab.redis.port
      const durability = await setDurability(redisPort, DURABILITY)
      const redisPid = Number(infoField(redisPort, "server", "process_id"))
      const tuning = { RELAY_DELIVERY_CONCURRENCY: "64", RELAY_DESTINATION_CONCURRENCY: "16" }
      const ids = SPLIT
        ? ["bench-relay", "bench-worker"]
        : Array.from({ length: RELAYS }, (_, i) => `bench-relay-${i}`)
      const relays = await Promise.all(
        ids.map((id, i) =>
          stack.startRelay(id, {
            ...tuning,
            ...RELAY_ENV,
            ...(SPLIT ? { RELAY_ROLES: i === 0 ? "ingress" : "delivery" } : {}),
          }),
        ),
      )
      try {
        for (const relay of relays)
          await waitFor("relay ready", async () => (await relay.ready())?.status === 200)
        const beats = await stack.lab.heartbeats()
        const pids = ids.map((id) => beats.find((h) => h.relayId === id)!.pid)
        const ingress = SPLIT ? relays.slice(0, 1) : relays
        const transports = ingress.map((relay) =>
          submissionClient(
            relay,
            stack.relayCa,
            PER_CONNECTION ? "per-message" : CONNECTIONS / ingress.length,
          ),
        )
        const monitorFile = process.env.BENCH_E2E_MONITOR
        const monitor = monitorFile
          ? spawn("redis-cli", ["-p", String(redisPort), "MONITOR"], {
              stdio: ["ignore", openSync(monitorFile, "w"), "ignore"],
            })
          : undefined
        const before = good.recorder.messages().length
        const commandsBefore = commandStats(redisPort)
        const timeBefore = commandTime(redisPort)
        const cpuBefore = pids.map(cpuSeconds)
        const syscallsBefore = pids.map(syscalls)
        const redisCpuBefore = cpuSeconds(redisPid)
        const redisTime = process.env.BENCH_REDIS_TIME ? await sampleRedisTime(redisPort) : undefined
        const latencies: Array<number> = []
        let failures = 0
        const started = performance.now()
        let next = 0
        const sender = (transport: (typeof transports)[number]) => async () => {
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
        // Pooled: two senders per connection keep every connection busy. A connection per
        // message: CONNECTIONS connections open at any time.
        const senders = PER_CONNECTION ? CONNECTIONS : CONNECTIONS * 2
        await Promise.all(
          Array.from({ length: senders }, (_, i) => sender(transports[i % transports.length]!)()),
        )
        const accepted = performance.now() - started
        await waitFor(
          "all delivered",
          () => (good.recorder.messages().length - before >= MESSAGES - failures ? true : undefined),
          1_800_000,
        )
        const total = performance.now() - started
        const timeSpent = await redisTime?.stop()
        monitor?.kill()
        const cpu = pids.map((pid, i) => cpuSeconds(pid) - cpuBefore[i]!)
        const redisCpu = cpuSeconds(redisPid) - redisCpuBefore
        const calls = pids.map(syscalls).reduce(
          (sum, now, i) => ({
            reads: sum.reads + now.reads - syscallsBefore[i]!.reads,
            writes: sum.writes + now.writes - syscallsBefore[i]!.writes,
          }),
          { reads: 0, writes: 0 },
        )
        const commands = grownSince(commandStats(redisPort), commandsBefore).sort((a, b) => b[1] - a[1])
        const time = grownSince(commandTime(redisPort), timeBefore).sort((a, b) => b[1] - a[1])
        for (const t of transports) t.close()
        const perMessageMs = (seconds: number) => (seconds / MESSAGES) * 1000
        report("durability", durability)
        report("messages (4 KB)", MESSAGES)
        report(
          PER_CONNECTION ? "concurrent client connections (one message each)" : "client connections",
          CONNECTIONS,
        )
        if (Object.keys(RELAY_ENV).length > 0)
          report(
            "relay settings",
            Object.entries(RELAY_ENV)
              .map(([k, v]) => `${k}=${v}`)
              .join(" "),
          )
        report("relay processes", SPLIT ? "2 (ingress-only + delivery-only)" : String(RELAYS))
        report("refused or failed submissions", failures)
        report("acceptance rate", (MESSAGES / accepted) * 1000, "msg/s")
        report("end-to-end rate (first submit → last delivery)", (MESSAGES / total) * 1000, "msg/s")
        report("acceptance latency p50", percentile(latencies, 50), "ms")
        report("acceptance latency p99", percentile(latencies, 99), "ms")
        report("relay CPU per message (all relays)", perMessageMs(cpu.reduce((a, b) => a + b, 0)), "ms")
        ids.forEach((id, i) => {
          report(`  ${id}`, perMessageMs(cpu[i]!), "ms")
        })
        report(
          "relay system calls per message (read / write)",
          `${(calls.reads / MESSAGES).toFixed(1)} / ${(calls.writes / MESSAGES).toFixed(1)}`,
        )
        report("Redis CPU per message", perMessageMs(redisCpu), "ms")
        ids.forEach((id, i) => {
          const { now, peak } = rss(pids[i]!)
          report(`${id} RSS now / peak`, `${now.toFixed(0)} / ${peak.toFixed(0)}`, "MiB")
        })
        for (const [i, relay] of relays.entries())
          report(`${ids[i]} heap used / heap total / external`, await relayMemory(relay), "MiB")
        for (const [i, pid] of pids.entries()) {
          const snapshot = await takeHeapSnapshot(pid)
          if (snapshot) printHeapSnapshot(ids[i]!, snapshot)
        }
        // Includes the heartbeats and policy polls of the run, a few per second.
        const perMessage = (n: number) => Math.round((n / MESSAGES) * 100) / 100
        report("Redis commands per message", perMessage(commands.reduce((sum, [, calls]) => sum + calls, 0)))
        report(
          "  of which",
          commands
            .slice(0, 10)
            .map(([name, calls]) => `${name} ${perMessage(calls)}`)
            .join(", "),
        )
        // What Redis spends outside: reading and parsing requests, writing replies, the AOF.
        const scripted = new Set(["evalsha", "eval", "exec"])
        report(
          "Redis time in scripts and transactions per message",
          time.filter(([name]) => scripted.has(name)).reduce((sum, [, usec]) => sum + usec, 0) /
            MESSAGES /
            1000,
          "ms",
        )
        report(
          "  most time (µs per message)",
          time
            .slice(0, 8)
            .map(([name, usec]) => `${name} ${(usec / MESSAGES).toFixed(1)}`)
            .join(", "),
        )
        if (timeSpent)
          for (const [signature, { calls, usec }] of timeSpent.slice(0, 15))
            report(
              `  Redis time: ${signature}`,
              `${(usec / MESSAGES).toFixed(1)} µs per message, ${(calls / MESSAGES).toFixed(2)} calls, ${(usec / calls).toFixed(1)} µs each`,
            )
      } finally {
        await Promise.all(relays.map((relay) => relay.stop("SIGTERM")))
      }
    } finally {
      await stack.stop()
    }
  },
}

export default suite

/**
 * A deep queue: a partner unreachable (its only server refuses connections) while BENCH_DEEP_MESSAGES
 * (20,000; the issue's figure is 100,000) messages of 4 KB wait for it in two relays' queue; then
 * its policy is fixed (a new bundle with a server that answers) and the waiting mail is flushed.
 *
 * Reports Redis memory per waiting message, what the relays and Redis spend while the mail waits
 * (CPU, commands per second over BENCH_DEEP_IDLE_SECONDS — no polling storm), relay RSS, and the
 * drain: its rate, the partner's peak concurrent transactions (against the per-destination
 * limit), and the attempt outcomes counted by the relays while draining (a breaker tripping shows
 * there as deferrals). On the Redis durability setting it names (BENCH_DEEP_DURABILITY, `always`).
 */
import { freePort } from "@mailconnect/test-redis"
import { labPartner, policyOf, startStack, waitFor } from "@mailconnect/test-support"
import { submissionClient } from "../clients"
import { printHeapSnapshot, takeHeapSnapshot } from "../heap-snapshot"
import { commandStats, cpuSeconds, infoField, redisCli, relayMemory, rss, setDurability } from "../measure"
import { type BenchSuite, report } from "../suite"

const MESSAGES = Number(process.env.BENCH_DEEP_MESSAGES ?? 20_000)
const IDLE_SECONDS = Number(process.env.BENCH_DEEP_IDLE_SECONDS ?? 30)
const DURABILITY = process.env.BENCH_DEEP_DURABILITY ?? "always"
const CONNECTIONS = 16
const DESTINATION_CONCURRENCY = 10
const BODY = `${"x".repeat(78)}\r\n`.repeat(50)

const totalCommands = (port: number) => [...commandStats(port).values()].reduce((a, b) => a + b, 0)
const usedMemory = (port: number) => Number(infoField(port, "memory", "used_memory"))

/** Most transactions the partner had open at once (MAIL FROM to end of DATA). */
const peakOverlap = (spans: ReadonlyArray<{ startedAt?: number; receivedAt?: number }>) => {
  const edges = spans
    .filter((s) => s.startedAt !== undefined && s.receivedAt !== undefined)
    .flatMap((s) => [
      [s.startedAt!, 1],
      [s.receivedAt!, -1],
    ])
    .sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!)
  let open = 0
  let peak = 0
  for (const [, step] of edges) {
    open += step!
    peak = Math.max(peak, open)
  }
  return peak
}

const suite: BenchSuite = {
  name: "deep queue (a partner unreachable with mail waiting, then fixed and flushed)",
  run: async () => {
    const stack = await startStack(["good"])
    try {
      const good = stack.partners.scenario("good")
      const mailboxes = { host: good.host, port: good.port }
      const fixed = labPartner(stack.partners, "bank", "good")
      const closedPort = await freePort()
      const unreachable = { ...fixed, servers: [{ host: "127.0.0.1", port: closedPort }] }
      await stack.publish(policyOf([unreachable], mailboxes), 1)
      const redisPort = stack.lab.redis.port
      const durability = await setDurability(redisPort, DURABILITY)
      const redisPid = Number(infoField(redisPort, "server", "process_id"))
      const ids = ["deep-relay-0", "deep-relay-1"]
      const relays = await Promise.all(
        ids.map((id) =>
          stack.startRelay(id, {
            RELAY_DELIVERY_CONCURRENCY: "64",
            RELAY_DESTINATION_CONCURRENCY: String(DESTINATION_CONCURRENCY),
          }),
        ),
      )
      try {
        for (const relay of relays)
          await waitFor("relay ready", async () => (await relay.ready())?.status === 200)
        const beats = await stack.lab.heartbeats()
        const pids = ids.map((id) => beats.find((h) => h.relayId === id)!.pid)
        const memoryBefore = usedMemory(redisPort)
        const transports = relays.map((relay) =>
          submissionClient(relay, stack.relayCa, CONNECTIONS / relays.length),
        )
        let next = 0
        let failures = 0
        const started = performance.now()
        await Promise.all(
          Array.from({ length: CONNECTIONS * 2 }, (_, i) => async () => {
            const transport = transports[i % transports.length]!
            while (next < MESSAGES) {
              const n = next++
              await transport
                .sendMail({
                  envelope: { from: "alice@customer.example", to: [`user${n}@bank.example`] },
                  raw: `From: alice@customer.example\r\nTo: user${n}@bank.example\r\nSubject: deep ${n}\r\n\r\n${BODY}`,
                })
                .catch(() => failures++)
            }
          }).map((send) => send()),
        )
        const queuedIn = (performance.now() - started) / 1000
        for (const t of transports) t.close()
        // Every job has had its first attempt (refused) and waits on its timeline.
        await waitFor(
          "every message waiting",
          () =>
            Number(redisCli(redisPort, "ZCARD", `{${stack.lab.prefix}}:delivery:delayed`)) >=
            MESSAGES - failures
              ? true
              : undefined,
          600_000,
        )
        const waiting = MESSAGES - failures
        const memoryWaiting = usedMemory(redisPort)
        const idleCpu = pids.map(cpuSeconds)
        const idleRedisCpu = cpuSeconds(redisPid)
        const idleCommands = totalCommands(redisPort)
        await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000))
        const idleRelayCpu = pids.reduce((sum, pid, i) => sum + cpuSeconds(pid) - idleCpu[i]!, 0)
        const idleRedis = cpuSeconds(redisPid) - idleRedisCpu
        const idleRate = (totalCommands(redisPort) - idleCommands) / IDLE_SECONDS
        const rssWaiting = pids.map((pid) => rss(pid))

        // The fix: a bundle whose server answers; each relay flushes the partner's mail on activation.
        const outcomesBefore = await Promise.all(relays.map((relay) => relay.metrics()))
        const received = good.recorder.messages().length
        const drainStarted = performance.now()
        await stack.publish(policyOf([fixed], mailboxes), 2)
        await waitFor(
          "the waiting mail delivered",
          () => (good.recorder.messages().length - received >= waiting ? true : undefined),
          3_600_000,
        )
        const drainSeconds = (performance.now() - drainStarted) / 1000
        const drained = good.recorder.messages().slice(received)
        const outcomesAfter = await Promise.all(relays.map((relay) => relay.metrics()))
        const outcomes = new Map<string, number>()
        outcomesAfter.forEach((after, i) => {
          for (const [name, value] of after)
            if (name.startsWith("mc_deliveries_total"))
              outcomes.set(name, (outcomes.get(name) ?? 0) + value - (outcomesBefore[i]!.get(name) ?? 0))
        })

        report("durability", durability)
        report("messages waiting (4 KB each)", waiting)
        report("refused submissions", failures)
        report("queued in", queuedIn, "s")
        report("Redis memory per waiting message", (memoryWaiting - memoryBefore) / waiting / 1024, "KiB")
        report("Redis used memory with the queue", memoryWaiting / 1024 / 1024, "MiB")
        report(
          `while waiting (${IDLE_SECONDS} s): relay CPU (both)`,
          (idleRelayCpu / IDLE_SECONDS) * 100,
          "% of a core",
        )
        report("  Redis CPU", (idleRedis / IDLE_SECONDS) * 100, "% of a core")
        report("  Redis commands per second (all clients)", idleRate)
        ids.forEach((id, i) => {
          const { now, peak } = rssWaiting[i]!
          report(`  ${id} RSS now / peak`, `${now.toFixed(0)} / ${peak.toFixed(0)}`, "MiB")
        })
        report("drain: all delivered after the fix in", drainSeconds, "s")
        report("drain rate", waiting / drainSeconds, "msg/s")
        report("drain: duplicates at the partner", drained.length - waiting)
        report(
          "drain: partner's peak concurrent transactions",
          `${peakOverlap(drained)} (limit ${DESTINATION_CONCURRENCY} per relay × ${relays.length})`,
        )
        for (const [name, count] of [...outcomes].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]))
          report(`  ${name}`, count)
        ids.forEach((id, i) => {
          const { now, peak } = rss(pids[i]!)
          report(`${id} RSS after the drain now / peak`, `${now.toFixed(0)} / ${peak.toFixed(0)}`, "MiB")
        })
        for (const [i, relay] of relays.entries())
          report(`${ids[i]} heap used / heap total / external`, await relayMemory(relay), "MiB")
        for (const [i, pid] of pids.entries()) {
          const snapshot = await takeHeapSnapshot(pid)
          if (snapshot) printHeapSnapshot(ids[i]!, snapshot)
        }
      } finally {
        await Promise.all(relays.map((relay) => relay.stop("SIGTERM")))
      }
    } finally {
      await stack.stop()
    }
  },
}

export default suite

/**
 * The cost of the delivery log and the message trace per message.
 *
 * 1. The trace index alone, written through `TraceIndex` as a relay writes it (a session-in and
 *    an attempt with full TLS evidence per message, each to a new recipient — the worst case for
 *    per-address keys — then again with recipients drawn from a pool of 200): Redis memory per
 *    message from INFO memory before/after and from MEMORY USAGE over the trace's keys, writer
 *    CPU and Redis CPU per message, and the time of a few searches over what was written.
 * 2. A relay process end to end (submission → relay → the lab's good partner under enforced
 *    TLS), three times: no delivery log and no trace, the delivery log to a file, the delivery log
 *    and the trace (the default): relay CPU and Redis CPU per message, and Redis memory per message.
 * Redis as the tests run it: no persistence (`--save ""`, appendonly no) unless BENCH_TRACE_AOF=1.
 */
import { makeTraceIndex, type TraceIndexShape, type TraceLine } from "@mailconnect/message-trace"
import { RedisClient } from "@mailconnect/redis-client"
import { startRedis } from "@mailconnect/test-redis"
import { labPartner, policyOf, redisLayer, startStack, waitFor } from "@mailconnect/test-support"
import { Effect, Layer } from "effect"
import { submissionClient } from "../clients"
import { cpuSeconds, describeDurability, infoField, redisCli } from "../measure"
import { type BenchSuite, percentile, report } from "../suite"

const DIRECT = Number(process.env.BENCH_TRACE_MESSAGES ?? 10_000)
const E2E = Number(process.env.BENCH_TRACE_E2E_MESSAGES ?? 1_000)
const WARMUP = 200
const AOF = process.env.BENCH_TRACE_AOF === "1"
const BODY = `${"x".repeat(78)}\r\n`.repeat(50)

const infoNumber = (port: number, section: string, field: string) => Number(infoField(port, section, field))
const usedMemory = (port: number) => infoNumber(port, "memory", "used_memory")
const redisCpu = (port: number) =>
  infoNumber(port, "cpu", "used_cpu_user") + infoNumber(port, "cpu", "used_cpu_sys")

/** Bytes of every key under `pattern` by MEMORY USAGE (SAMPLES 0: every element), in one script. */
const keysMemory = (port: number, pattern: string): { keys: number; bytes: number } => {
  const lua = `local n, t = 0, 0
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
  n = n + 1
  t = t + redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')
end
return { n, t }`
  const [keys, bytes] = redisCli(port, "EVAL", lua, "0", pattern).trim().split("\n").map(Number)
  return { keys: keys!, bytes: bytes! }
}

const iso = (t: number) => new Date(t).toISOString()
type Line<E extends TraceLine["event"]> = Omit<Extract<TraceLine, { event: E }>, "relay">
type SessionInLine = Line<"session-in">
type AttemptLine = Line<"attempt">
const PARTNERS = ["bank", "insurer", "notary", "court", "clinic"]

/** What a relay writes for one delivered message to a partner: its session-in and its attempt. */
const linesOf = (i: number, recipient: string, at: number): readonly [SessionInLine, AttemptLine] => {
  const partner = PARTNERS[i % PARTNERS.length]!
  const queueId = `${at.toString(36)}-${i.toString(16).padStart(12, "0")}`
  const messageId = `${i}.${at}@mail.customer.example`
  return [
    {
      event: "session-in",
      at: iso(at),
      queueId,
      messageId,
      listener: "submission",
      client: { address: "192.0.2.10", helo: "laptop.customer.example" },
      tls: { protocol: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384" },
      user: "alice",
      sender: "alice@customer.example",
      recipients: [recipient],
      size: 4_200,
    },
    {
      event: "attempt",
      at: iso(at + 800),
      queueId,
      messageId,
      attempt: 1,
      sender: "alice@customer.example",
      domain: recipient.split("@")[1]!,
      partner,
      source: "partner",
      result: "delivered",
      recipients: [
        {
          address: recipient,
          outcome: "delivered",
          status: "2.0.0",
          reply: "250 2.0.0 Ok: queued as 4F2A1B3C",
        },
      ],
      server: `smtp-in.${partner}.example:25`,
      tls: {
        protocol: "TLSv1.3",
        cipher: "TLS_AES_256_GCM_SHA384",
        peer: {
          subject: `CN=smtp-in.${partner}.example,O=${partner} AG,C=DE`,
          issuer: "CN=HARICA TLS RSA Root CA 2021,O=Hellenic Academic and Research Institutions CA,C=GR",
          subjectAltNames: [`DNS:smtp-in.${partner}.example`, `DNS:mx2.${partner}.example`],
          notAfter: "2027-03-01T12:00:00.000Z",
          spkiPin: "sha256/q5Xv0Yk1b9sQe3m7Rz5tT3l2pX8wY9a0bC1dE2fG3hI=",
        },
        verification: { ok: true, findings: [], matchedName: `smtp-in.${partner}.example` },
      },
      bundleSerial: 118,
    },
  ]
}

const directRun = async (label: string, recipientOf: (i: number) => string) => {
  const redis = await startRedis({ args: AOF ? ["--appendonly", "yes"] : [] })
  try {
    const prefix = "benchtrace"
    const now = Date.now()
    // Spread over the retention (29 days of it, none on the edge), as a month of mail is.
    const atOf = (i: number) => Math.round(now - 30 * 86_400_000 + 3_600_000 + (i * 29 * 86_400_000) / DIRECT)
    const half = Math.floor(DIRECT / 2)
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const trace: TraceIndexShape = makeTraceIndex(yield* RedisClient, {
          relay: "bench-relay",
          retentionMs: 30 * 86_400_000,
        })
        // Warm the script cache and the JIT, then measure.
        for (let i = 0; i < WARMUP; i++)
          for (const line of linesOf(DIRECT + i, `warm${i}@warm.example`, now)) yield* trace.record(line)
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 200)))
        const memoryBefore = usedMemory(redis.port)
        const { bytes: warmBytes } = keysMemory(redis.port, `{${prefix}}:trace:*`)
        const redisCpuBefore = redisCpu(redis.port)
        const cpuBefore = process.cpuUsage()
        const started = performance.now()
        for (let i = 0; i < DIRECT; i++)
          for (const line of linesOf(i, recipientOf(i), atOf(i))) yield* trace.record(line)
        const elapsed = performance.now() - started
        const cpu = process.cpuUsage(cpuBefore)
        const redisCpuUsed = redisCpu(redis.port) - redisCpuBefore
        const memoryAfter = usedMemory(redis.port)
        const searches: Array<readonly [string, number]> = []
        for (const [name, filter] of [
          ["by recipient domain, newest 50", { to: "bank.example", limit: 50 }],
          [
            "by partner and time (1 day), newest 50",
            { partner: "insurer", since: now - 86_400_000, limit: 50 },
          ],
          [
            "by Message-ID",
            { messageId: linesOf(half, recipientOf(half), atOf(half))[0].messageId, limit: 50 },
          ],
          [
            "by sender and a code no message had",
            { from: "alice@customer.example", code: "CERT_EXPIRED", limit: 50 },
          ],
        ] as const) {
          const samples: Array<number> = []
          for (let k = 0; k < 5; k++) {
            const t = performance.now()
            yield* trace.search(filter)
            samples.push(performance.now() - t)
          }
          searches.push([name, percentile(samples, 50)])
        }
        return { elapsed, cpu, redisCpuUsed, memoryBefore, memoryAfter, warmBytes, searches }
      }).pipe(Effect.scoped, Effect.provide(Layer.orDie(redisLayer(redis.url, prefix)))),
    )
    const keys = keysMemory(redis.port, `{${prefix}}:trace:*`)
    const [sessionIn, attempt] = linesOf(0, recipientOf(0), now)
    console.log(`-- ${label}`)
    report("Redis durability", describeDurability(redis.port))
    report("messages written (2 lines each)", DIRECT)
    report(
      "line sizes (session-in / attempt JSON)",
      `${JSON.stringify(sessionIn).length} / ${JSON.stringify(attempt).length}`,
      "bytes",
    )
    report(
      "Redis memory per message (INFO used_memory)",
      (result.memoryAfter - result.memoryBefore) / DIRECT,
      "bytes",
    )
    report(
      "Redis memory per message (MEMORY USAGE, trace keys)",
      (keys.bytes - result.warmBytes) / DIRECT,
      "bytes",
    )
    report("trace keys", keys.keys)
    report("writer CPU per message (record × 2)", (result.cpu.user + result.cpu.system) / 1000 / DIRECT, "ms")
    report("Redis CPU per message", (result.redisCpuUsed * 1000) / DIRECT, "ms")
    report("write rate (sequential, one client)", (DIRECT / result.elapsed) * 1000, "msg/s")
    for (const [name, ms] of result.searches) report(`search ${name} p50`, ms, "ms")
  } finally {
    await redis.stop()
  }
}

interface RelayFigures {
  readonly cpuMs: number
  readonly redisCpuMs: number
  readonly redisBytes: number
  readonly traceBytes: number
}

const e2e = async (): Promise<void> => {
  const stack = await startStack(["good"])
  try {
    const good = stack.partners.scenario("good")
    await stack.publish(
      policyOf([labPartner(stack.partners, "bank", "good")], { host: good.host, port: good.port }),
      1,
    )
    const port = stack.lab.redis.port
    const configurations = [
      ["no delivery log, no trace", { RELAY_TRACE: "off" }],
      [
        "delivery log (file), no trace",
        { RELAY_TRACE: "off", RELAY_DELIVERY_LOG: stack.lab.file("d1.log", "") },
      ],
      ["delivery log (file) + trace (default)", { RELAY_DELIVERY_LOG: stack.lab.file("d2.log", "") }],
    ] as const
    const figures: Array<readonly [string, RelayFigures]> = []
    let sent = 0
    for (const [label, env] of configurations) {
      const id = `bench-trace-${figures.length}`
      const relay = await stack.startRelay(id, {
        RELAY_DELIVERY_CONCURRENCY: "64",
        RELAY_DESTINATION_CONCURRENCY: "16",
        ...env,
      })
      try {
        await waitFor("relay ready", async () => (await relay.ready())?.status === 200)
        const pid = (await stack.lab.heartbeats()).find((h) => h.relayId === id)!.pid
        const transport = submissionClient(relay, stack.relayCa, 8)
        const batch = async (count: number) => {
          const before = good.recorder.messages().length
          let next = 0
          const sender = async () => {
            while (next < count) {
              const i = sent + next++
              await transport.sendMail({
                envelope: { from: "alice@customer.example", to: [`user${i}@bank.example`] },
                raw: `From: alice@customer.example\r\nTo: user${i}@bank.example\r\nSubject: bench ${i}\r\nMessage-ID: <bench-${i}@customer.example>\r\n\r\n${BODY}`,
              })
            }
          }
          await Promise.all(Array.from({ length: 16 }, sender))
          sent += count
          await waitFor(
            "all delivered",
            () => (good.recorder.messages().length - before >= count ? true : undefined),
            600_000,
          )
        }
        await batch(WARMUP)
        await new Promise((r) => setTimeout(r, 1_000))
        const traceBefore = keysMemory(port, `{${stack.lab.prefix}}:trace:*`).bytes
        const memoryBefore = usedMemory(port)
        const redisCpuBefore = redisCpu(port)
        const cpuBefore = cpuSeconds(pid)
        await batch(E2E)
        // The trace's writes run in the background: let the last ones land.
        await new Promise((r) => setTimeout(r, 1_000))
        figures.push([
          label,
          {
            cpuMs: ((cpuSeconds(pid) - cpuBefore) * 1000) / E2E,
            redisCpuMs: ((redisCpu(port) - redisCpuBefore) * 1000) / E2E,
            redisBytes: (usedMemory(port) - memoryBefore) / E2E,
            traceBytes: (keysMemory(port, `{${stack.lab.prefix}}:trace:*`).bytes - traceBefore) / E2E,
          },
        ])
        transport.close()
      } finally {
        await relay.stop("SIGTERM")
      }
    }
    console.log(`-- relay process, ${E2E} messages of 4 KB per configuration (after ${WARMUP} to warm up)`)
    report("Redis durability", describeDurability(port))
    for (const [label, f] of figures) {
      report(`${label}: relay CPU per message`, f.cpuMs, "ms")
      report(`${label}: Redis CPU per message`, f.redisCpuMs, "ms")
      report(`${label}: Redis memory per message (used_memory)`, f.redisBytes, "bytes")
      report(`${label}: of which trace keys`, f.traceBytes, "bytes")
    }
    const [base, log, trace] = figures.map(([, f]) => f) as [RelayFigures, RelayFigures, RelayFigures]
    report("delivery log: relay CPU per message", log.cpuMs - base.cpuMs, "ms")
    report("trace: relay CPU per message", trace.cpuMs - log.cpuMs, "ms")
    report("trace: Redis CPU per message", trace.redisCpuMs - log.redisCpuMs, "ms")
  } finally {
    await stack.stop()
  }
}

const suite: BenchSuite = {
  name: "delivery log and message trace: cost per message",
  run: async () => {
    await directRun(
      "trace index alone, a new recipient per message",
      (i) => `user${i}@${PARTNERS[i % PARTNERS.length]}.example`,
    )
    await directRun(
      "trace index alone, recipients from a pool of 200",
      (i) => `user${i % 200}@${PARTNERS[i % PARTNERS.length]}.example`,
    )
    await e2e()
  },
}

export default suite

/**
 * Scale-out on Redis Cluster: the same load (submission with STARTTLS + AUTH → relay processes →
 * the partner lab's `good` server under enforced TLS) once on a standalone Redis with the queue on
 * one hash tag, once on a 3-master Cluster with the queue sharded over N tags (`REDIS_SHARDS`),
 * side by side in one run. Reports per layout: messages per second from first submission to last
 * delivery, relay CPU per message, Redis CPU per message (all masters), and per master its
 * commands, keys and CPU — on the Redis durability setting it names (every node the same).
 *
 * The Cluster's prefix is chosen so that the N shard tags fall evenly on the masters (their slots
 * are fixed by CRC16 of the tag; `CLUSTER KEYSLOT` says which master serves which).
 *
 * Settings (environment):
 * - BENCH_CLUSTER_MESSAGES (2,000), BENCH_CLUSTER_CONNECTIONS (16 client connections in all);
 * - BENCH_CLUSTER_RELAYS (2: one relay process per core, both roles, clients spread over them);
 * - BENCH_CLUSTER_SHARDS (3: one per master — cheapest, see docs/scaling.md; 6 for two per master);
 * - BENCH_CLUSTER_DURABILITY: `always` (default), `everysec` or `none`, on every Redis node;
 * - BENCH_CLUSTER_RELAY_ENV="NAME=value,…": extra settings for every relay (e.g. RELAY_TRACE=off:
 *   the message trace's per-message writes are fleet-wide, on shard 0's master).
 */
import { FleetRegistry } from "@mailconnect/fleet"
import { type RedisServer, startCluster } from "@mailconnect/test-redis"
import {
  labPartner,
  policyOf,
  publishSigned,
  redisLayer,
  type Stack,
  signedPolicy,
  startStack,
  waitFor,
} from "@mailconnect/test-support"
import { Effect, Layer } from "effect"
import { submissionClient } from "../clients"
import {
  commandStats,
  cpuSeconds,
  errorStats,
  failedCalls,
  grownSince,
  infoField,
  redisCli,
  redisPid,
  rss,
  setDurability,
} from "../measure"
import { type BenchSuite, report } from "../suite"

const MESSAGES = Number(process.env.BENCH_CLUSTER_MESSAGES ?? 2_000)
const CONNECTIONS = Number(process.env.BENCH_CLUSTER_CONNECTIONS ?? 16)
const RELAYS = Number(process.env.BENCH_CLUSTER_RELAYS ?? 2)
const SHARDS = Number(process.env.BENCH_CLUSTER_SHARDS ?? 3)
const DURABILITY = process.env.BENCH_CLUSTER_DURABILITY ?? "always"
const RELAY_ENV = Object.fromEntries(
  (process.env.BENCH_CLUSTER_RELAY_ENV ?? "")
    .split(",")
    .filter((pair) => pair.includes("="))
    .map((pair) => [pair.slice(0, pair.indexOf("=")).trim(), pair.slice(pair.indexOf("=") + 1).trim()]),
)
const MASTERS = 3
const BODY = `${"x".repeat(78)}\r\n`.repeat(50)

interface Layout {
  readonly name: string
  readonly url: string
  readonly prefix: string
  readonly shards: number
  readonly nodes: ReadonlyArray<RedisServer>
}

/** Counters of every master summed by name, per message: "none" or "NOSCRIPT 0.002, …". */
const perMessage = (counters: ReadonlyArray<ReadonlyArray<readonly [string, number]>>) => {
  const sums = new Map<string, number>()
  for (const node of counters) for (const [name, n] of node) sums.set(name, (sums.get(name) ?? 0) + n)
  return sums.size === 0
    ? "none"
    : [...sums].map(([name, n]) => `${name} ${(n / MESSAGES).toFixed(3)}`).join(", ")
}

interface NodeFigures {
  readonly port: number
  readonly commands: number
  readonly keys: number
  readonly clients: number
  readonly errors: ReadonlyArray<readonly [string, number]>
  readonly failed: ReadonlyArray<readonly [string, number]>
  readonly cpu: number
}

const tagOf = (prefix: string, shard: number) => (shard === 0 ? `{${prefix}}` : `{${prefix}:${shard}}`)

/** Calls of every command so far, except the bench's own probes. */
const commandCalls = (port: number): number => {
  let calls = 0
  for (const [name, n] of commandStats(port)) if (!/^(info|config|dbsize|cluster)/.test(name)) calls += n
  return calls
}

/** A prefix whose `SHARDS` tags sit evenly on the masters (as far as `SHARDS` divides). */
const evenPrefix = async (
  base: string,
  nodeFor: (key: string) => Promise<RedisServer>,
  nodes: ReadonlyArray<RedisServer>,
) => {
  const want = Math.floor(SHARDS / nodes.length)
  for (let k = 0; k < 1_000; k++) {
    const prefix = `${base}c${k}`
    const homes = await Promise.all(
      Array.from({ length: SHARDS }, (_, i) => nodeFor(`${tagOf(prefix, i)}:x`)),
    )
    if (nodes.every((n) => homes.filter((h) => h === n).length >= want)) return prefix
  }
  throw new Error(`no prefix spreads ${SHARDS} shards over ${nodes.length} masters evenly`)
}

const pidsOf = (url: string, prefix: string, ids: ReadonlyArray<string>) =>
  Effect.runPromise(
    Effect.map(FleetRegistry, (f) => f.live).pipe(
      Effect.flatten,
      Effect.map((live) => ids.map((id) => live.relays.find((h) => h.relayId === id)!.pid)),
      Effect.scoped,
      Effect.provide(FleetRegistry.layer.pipe(Layer.provideMerge(redisLayer(url, prefix)))),
    ),
  )

/** What one layout's run compares with the other's. */
interface Run {
  readonly rate: number
  /** Redis CPU per message of the master that used most (ms). */
  readonly busiestMaster: number
}

/** The load on one layout: relays started on it, messages sent and delivered, figures printed. */
const measure = async (stack: Stack, layout: Layout): Promise<Run> => {
  const good = stack.partners.scenario("good")
  const policy = policyOf([labPartner(stack.partners, "bank", "good")], { host: good.host, port: good.port })
  const { signer } = stack.lab
  await Effect.runPromise(
    publishSigned(signer, signedPolicy(signer, policy, 1)).pipe(
      Effect.scoped,
      Effect.provide(redisLayer(layout.url, layout.prefix, { commandTimeoutMs: 5_000 })),
    ),
  )
  const durability = await Promise.all(layout.nodes.map((n) => setDurability(n.port, DURABILITY)))
  const ids = Array.from({ length: RELAYS }, (_, i) => `bench-${layout.name}-${i}`)
  const relays = await Promise.all(
    ids.map((id) =>
      stack.startRelay(id, {
        REDIS_URL: layout.url,
        REDIS_PREFIX: layout.prefix,
        REDIS_SHARDS: String(layout.shards),
        RELAY_DELIVERY_CONCURRENCY: "64",
        RELAY_DESTINATION_CONCURRENCY: "16",
        ...RELAY_ENV,
      }),
    ),
  )
  try {
    for (const relay of relays)
      await waitFor("relay ready", async () => (await relay.ready())?.status === 200)
    const pids = await pidsOf(layout.url, layout.prefix, ids)
    const transports = relays.map((relay) =>
      submissionClient(relay, stack.relayCa, CONNECTIONS / relays.length),
    )
    const before = good.recorder.messages().length
    const nodesBefore = layout.nodes.map((n) => ({
      commands: commandCalls(n.port),
      errors: errorStats(n.port),
      failed: failedCalls(n.port),
      cpu: cpuSeconds(redisPid(n.port)),
    }))
    const cpuBefore = pids.map(cpuSeconds)
    let failures = 0
    let next = 0
    const started = performance.now()
    const sender = (transport: (typeof transports)[number]) => async () => {
      while (next < MESSAGES) {
        const i = next++
        try {
          await transport.sendMail({
            envelope: { from: "alice@customer.example", to: [`user${i}@bank.example`] },
            raw: `From: alice@customer.example\r\nTo: user${i}@bank.example\r\nSubject: cluster bench ${i}\r\n\r\n${BODY}`,
          })
        } catch {
          failures++
        }
      }
    }
    await Promise.all(
      Array.from({ length: CONNECTIONS * 2 }, (_, i) => sender(transports[i % transports.length]!)()),
    )
    await waitFor(
      "all delivered",
      () => (good.recorder.messages().length - before >= MESSAGES - failures ? true : undefined),
      1_800_000,
    )
    const total = performance.now() - started
    for (const t of transports) t.close()
    const cpu = pids.map((pid, i) => cpuSeconds(pid) - cpuBefore[i]!)
    const nodes: ReadonlyArray<NodeFigures> = layout.nodes.map((n, i) => ({
      port: n.port,
      commands: commandCalls(n.port) - nodesBefore[i]!.commands,
      keys: Number(redisCli(n.port, "DBSIZE").trim()),
      clients: Number(infoField(n.port, "clients", "connected_clients")),
      errors: grownSince(errorStats(n.port), nodesBefore[i]!.errors),
      failed: grownSince(failedCalls(n.port), nodesBefore[i]!.failed),
      cpu: cpuSeconds(redisPid(n.port)) - nodesBefore[i]!.cpu,
    }))
    const perMessageMs = (seconds: number) => (seconds / MESSAGES) * 1000
    const allCommands = nodes.reduce((n, f) => n + f.commands, 0)
    report(`[${layout.name}] durability`, [...new Set(durability)].join("; "))
    report(`[${layout.name}] Redis masters / queue shards`, `${layout.nodes.length} / ${layout.shards}`)
    if (Object.keys(RELAY_ENV).length > 0)
      report(
        `[${layout.name}] relay settings`,
        Object.entries(RELAY_ENV)
          .map(([k, v]) => `${k}=${v}`)
          .join(" "),
      )
    report(`[${layout.name}] refused or failed submissions`, failures)
    report(`[${layout.name}] end-to-end rate`, (MESSAGES / total) * 1000, "msg/s")
    report(
      `[${layout.name}] relay CPU per message (all relays)`,
      perMessageMs(cpu.reduce((a, b) => a + b, 0)),
      "ms",
    )
    report(
      `[${layout.name}] Redis CPU per message (all masters)`,
      perMessageMs(nodes.reduce((a, n) => a + n.cpu, 0)),
      "ms",
    )
    report(`[${layout.name}] Redis commands per message`, Math.round((allCommands / MESSAGES) * 100) / 100)
    for (const node of nodes)
      report(
        `[${layout.name}]   master :${node.port}`,
        `${Math.round((node.commands / Math.max(1, allCommands)) * 100)}% of commands, ${node.keys} keys, ${node.clients} clients, CPU ${perMessageMs(node.cpu).toFixed(3)} ms/msg`,
      )
    report(`[${layout.name}] error replies per message`, perMessage(nodes.map((n) => n.errors)))
    report(`[${layout.name}] failed commands per message`, perMessage(nodes.map((n) => n.failed)))
    ids.forEach((id, i) => {
      const { peak } = rss(pids[i]!)
      report(`[${layout.name}] ${id} peak RSS`, peak.toFixed(0), "MiB")
    })
    return {
      rate: (MESSAGES / total) * 1000,
      busiestMaster: Math.max(...nodes.map((n) => perMessageMs(n.cpu))),
    }
  } finally {
    await Promise.all(relays.map((relay) => relay.stop("SIGTERM")))
  }
}

const suite: BenchSuite = {
  name: `scale-out: standalone Redis (1 shard) vs a ${MASTERS}-master Cluster (${SHARDS} shards), same load`,
  run: async () => {
    const stack = await startStack(["good"])
    try {
      const standalone = await measure(stack, {
        name: "standalone",
        url: stack.lab.redis.url,
        prefix: `${stack.lab.prefix}s`,
        shards: 1,
        nodes: [stack.lab.redis],
      })
      const cluster = await startCluster({ masters: MASTERS })
      try {
        const prefix = await evenPrefix(stack.lab.prefix, cluster.nodeFor, cluster.nodes)
        const clustered = await measure(stack, {
          name: "cluster",
          url: cluster.url,
          prefix,
          shards: SHARDS,
          nodes: cluster.nodes,
        })
        // Which master serves which shard, for the record.
        const homes = await Promise.all(
          Array.from(
            { length: SHARDS },
            async (_, i) => (await cluster.nodeFor(`${tagOf(prefix, i)}:x`)).port,
          ),
        )
        report("[cluster] shard → master", homes.map((port, i) => `${i}:${port}`).join(" "))
        report("[cluster] end-to-end rate against standalone", clustered.rate / standalone.rate, "×")
        // Masters on machines of their own: the busiest one bounds the Cluster's volume.
        report(
          "[cluster] volume bound against one Redis",
          standalone.busiestMaster / clustered.busiestMaster,
          "× (standalone Redis CPU / busiest master's, per message)",
        )
      } finally {
        await cluster.stop()
      }
    } finally {
      await stack.stop()
    }
  },
}

export default suite

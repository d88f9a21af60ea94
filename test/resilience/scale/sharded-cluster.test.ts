/**
 * The queue sharded over a 3-master Redis Cluster (`REDIS_SHARDS=6`): mail in over SMTP,
 * delivered to a lab partner end to end, with the spool and the delivery queue spread over the
 * masters — keys and commands on every one of them, none carrying it all — and a relay configured
 * for another shard count than the fleet's recorded layout refusing to start.
 */
import type { Lab as PartnerLab } from "@mailconnect/partner-lab"
import { type RedisCluster, type RedisServer, redisCommand, startCluster } from "@mailconnect/test-redis"
import type { SmtpRelay, Stack } from "@mailconnect/test-support"
import { labPartner, policyOf, startStack, waitFor } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loadIdsIn, printFigures, sendSteadily, tally } from "../support/load"
import { hardKill } from "../support/processes"
import { type TopologyStack, topologyStack } from "../support/topology"

const SHARDS = 6

let stack: Stack
let cluster: RedisCluster
const relays: Array<SmtpRelay> = []

beforeAll(async () => {
  stack = await startStack(["good"])
  cluster = await startCluster({ masters: 3 })
}, 120_000)

afterAll(async () => {
  await Promise.all(relays.map((r) => hardKill(r, stack.lab.prefix)))
  await cluster?.stop()
  await stack?.stop()
})

const policy = (partners: PartnerLab) => {
  const good = partners.scenario("good")
  return policyOf([labPartner(partners, "bank", "good")], { host: good.host, port: good.port })
}

const tagOf = (prefix: string, shard: number) => (shard === 0 ? `{${prefix}}` : `{${prefix}:${shard}}`)

/**
 * A prefix whose shard tags sit two on each master (the slots of `{p}`, `{p:1}`… are fixed by
 * CRC16; which prefix gives an even split is looked up, not hoped for).
 */
const evenPrefix = async (base: string): Promise<{ prefix: string; homes: ReadonlyArray<RedisServer> }> => {
  for (let k = 0; k < 500; k++) {
    const prefix = `${base}-s${k}`
    const homes = await Promise.all(
      Array.from({ length: SHARDS }, (_, i) => cluster.nodeFor(`${tagOf(prefix, i)}:x`)),
    )
    if (cluster.nodes.every((n) => homes.filter((h) => h === n).length === SHARDS / 3))
      return { prefix, homes }
  }
  throw new Error("no prefix with an even shard split found")
}

const commandCalls = async (node: RedisServer): Promise<number> => {
  const text = String(await redisCommand(node.port, "INFO", "commandstats"))
  let calls = 0
  for (const m of text.matchAll(/cmdstat_([^:]+):calls=(\d+)/g))
    if (
      !["info", "config|resetstat", "cluster|slots", "cluster|nodes", "cluster|info", "dbsize"].includes(
        m[1]!,
      )
    )
      calls += Number(m[2])
  return calls
}

describe("the queue sharded over a 3-master Redis Cluster", { timeout: 240_000 }, () => {
  let topology: TopologyStack
  let homes: ReadonlyArray<RedisServer>

  beforeAll(async () => {
    const even = await evenPrefix(stack.lab.prefix)
    homes = even.homes
    topology = await topologyStack(cluster.url, { stack, prefix: even.prefix })
  }, 60_000)

  it("delivers every message, with keys and commands on every master", async () => {
    await topology.publish(policy(stack.partners), 1)
    const relay = await topology.startRelay("sharded-relay", { REDIS_SHARDS: String(SHARDS) })
    relays.push(relay)
    await waitFor("relay ready on the cluster", async () => (await relay.ready())?.status === 200)
    // Readiness can answer before the SMTP listeners are bound: wait for the relay to say it runs.
    await waitFor("relay running", () => relay.output().includes('message="relay running"'))
    await Promise.all(cluster.nodes.map((n) => redisCommand(n.port, "CONFIG", "RESETSTAT")))

    const count = 60
    const run = await sendSteadily({
      relay: () => relay,
      relayCa: stack.relayCa,
      tag: "shd",
      count,
      intervalMs: 10,
      to: () => ["bob@bank.example"],
    })
    expect(run.accepted.length).toBe(count)
    const received = () => stack.partners.scenario("good").recorder.messages()
    await waitFor(
      "every accepted message delivered",
      () => {
        const delivered = new Set(loadIdsIn(received(), "shd"))
        return run.accepted.every((id) => delivered.has(id)) ? true : undefined
      },
      90_000,
    )
    const figures = tally("cluster sharded", run, loadIdsIn(received(), "shd"))
    printFigures(figures)
    expect(figures.lost).toBe(0)

    // The layout is recorded under shard 0's tag.
    const home0 = homes[0]!
    expect(await redisCommand(home0.port, "GET", `${tagOf(topology.prefix, 0)}:layout:shards`)).toBe(
      String(SHARDS),
    )
    const perMaster = await Promise.all(
      cluster.nodes.map(async (node) => {
        const queueKeys = (await redisCommand(
          node.port,
          "KEYS",
          `{${topology.prefix}*:delivery:*`,
        )) as ReadonlyArray<string>
        return {
          port: node.port,
          shards: homes.filter((h) => h === node).length,
          commands: await commandCalls(node),
          keys: Number(await redisCommand(node.port, "DBSIZE")),
          completedJobs: queueKeys.filter((k) => /:delivery:[^:]+\/bank\.example$/.test(k)).length,
          traceRecords: (
            (await redisCommand(
              node.port,
              "KEYS",
              `{${topology.prefix}*:trace:msg:*`,
            )) as ReadonlyArray<string>
          ).length,
          // The delivery statistics are sharded too: each shard's hour bucket of the partner.
          statsBuckets: (
            (await redisCommand(
              node.port,
              "KEYS",
              `{${topology.prefix}*:stats:h:bank:*`,
            )) as ReadonlyArray<string>
          ).length,
        }
      }),
    )
    console.log(`CLUSTER-SHARD-FIGURES ${JSON.stringify({ shards: SHARDS, messages: count, perMaster })}`)
    const total = perMaster.reduce((n, m) => n + m.commands, 0)
    const jobs = perMaster.reduce((n, m) => n + m.completedJobs, 0)
    expect(jobs).toBe(count)
    // The message trace is sharded like the spool: every message's record, none lost to a
    // cross-slot error (a failed write is only counted: the relay must report none).
    expect(perMaster.reduce((n, m) => n + m.traceRecords, 0)).toBe(count)
    const traceFailures = [...(await relay.metrics())]
      .filter(([series]) => series.startsWith("mc_trace_write_failures_total"))
      .reduce((n, [, value]) => n + value, 0)
    expect(traceFailures).toBe(0)
    for (const master of perMaster) {
      // Two shards each: a third of the jobs each, give or take the hash's spread.
      expect(master.completedJobs).toBeGreaterThanOrEqual(count / 10)
      expect(master.traceRecords).toBeGreaterThanOrEqual(count / 10)
      expect(master.keys).toBeGreaterThan(0)
      // One bucket per shard and hour (the run may cross an hour).
      expect(master.statsBuckets).toBeGreaterThanOrEqual(master.shards)
      // Every master does a real share of the work; none carries it all (shares measured: with
      // the trace fleet-wide 56 / 22 / 23 %, sharded 33–43 / 22–29 / 29–38 %; the bound leaves
      // room for the hash's spread over 60 ids — the trace records per master above are the
      // deterministic check that the trace is sharded).
      expect(master.commands / total).toBeGreaterThan(0.1)
      expect(master.commands / total).toBeLessThan(0.8)
    }
  })

  it("refuses a relay configured for another shard count than the fleet's layout", async () => {
    // It may exit before the harness sees it answer (the start then fails with its output), or
    // just after.
    const started = await topology.startRelay("wrong-shards", { REDIS_SHARDS: "2" }).then(
      (relay) => {
        relays.push(relay)
        return relay
      },
      (error: Error) => error,
    )
    let output: string
    if (started instanceof Error) output = started.message
    else {
      const code = await Promise.race([
        started.exited,
        new Promise<"running">((r) => setTimeout(() => r("running"), 30_000)),
      ])
      expect(code).not.toBe("running")
      expect(code).not.toBe(0)
      output = started.output()
    }
    expect(output).toMatch(/exited with 1|ShardLayoutMismatch/)
    expect(output).toContain("REDIS_SHARDS=2")
    expect(output).toContain(`${SHARDS} shard(s)`)
  })
})

/**
 * The relay unchanged on a 3-master Redis Cluster and on Sentinel (master, replica, three
 * sentinels), selected only by `REDIS_URL`: SMTP in → spool (Lua) + BullMQ → delivered to a lab
 * partner over verified TLS, a 550 turned into an NDR through the same queue, and a published
 * bundle hot-loaded. On Cluster every key must land in the `{prefix}` slot; on Sentinel the
 * relay must follow a failover by itself.
 */
import type { Lab as PartnerLab } from "@mailconnect/partner-lab"
import {
  type RedisCluster,
  redisCommand,
  type SentinelSetup,
  startCluster,
  startSentinelSetup,
} from "@mailconnect/test-redis"
import type { SmtpRelay, Stack } from "@mailconnect/test-support"
import { labPartner, policyOf, startStack, waitFor } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loadIdsIn, printFigures, refusalSummary, sendSteadily, tally } from "../support/load"
import { hardKill } from "../support/processes"
import { type TopologyStack, topologyStack } from "../support/topology"

let stack: Stack
const relays: Array<SmtpRelay> = []

beforeAll(async () => {
  stack = await startStack(["good"])
}, 120_000)

afterAll(async () => {
  await Promise.all(relays.map((r) => hardKill(r, stack.lab.prefix)))
  await stack?.stop()
})

const policy = (partners: PartnerLab, marker: string) => {
  const good = partners.scenario("good")
  const set = policyOf([labPartner(partners, "bank", "good")], { host: good.host, port: good.port })
  // A harmless difference between serials, so each publish is a new digest.
  return {
    ...set,
    defaults: { ...set.defaults, dsn: { languages: marker === "en" ? ["en"] : ["de", "en"] } },
  }
}

/** Readiness can answer before the SMTP listeners are bound: wait for the relay to say it runs. */
const listening = (relay: SmtpRelay) =>
  waitFor(`${relay.id} running`, () => relay.output().includes('message="relay running"'))

const received = () => stack.partners.scenario("good").recorder.messages()

/** Sends `count` messages to the bank and one to a recipient it refuses; checks every delivery. */
const roundTrip = async (
  topology: TopologyStack,
  relay: SmtpRelay,
  tag: string,
  count: number,
  fault?: { readonly before: (i: number) => void; readonly refusalsAllowed: true },
) => {
  const run = await sendSteadily({
    relay: () => relay,
    relayCa: stack.relayCa,
    tag,
    count,
    intervalMs: 20,
    to: (i) => (i === 0 ? ["bob@bank.example", "reject-x@bank.example"] : ["bob@bank.example"]),
    ...(fault ? { before: fault.before } : {}),
  })
  if (!fault) expect(run.accepted.length).toBe(count)
  await waitFor(
    `${tag}: every accepted message delivered`,
    () => {
      const delivered = new Set(loadIdsIn(received(), tag))
      return run.accepted.every((id) => delivered.has(id)) ? true : undefined
    },
    90_000,
  )
  // The refused recipient comes back to the sender as an NDR, queued and delivered like mail.
  const ndr = await waitFor(`${tag}: NDR to the sender`, () =>
    stack.partners
      .scenario("good")
      .recorder.messages()
      .find(
        (m) =>
          m.mailFrom === "" &&
          m.rcptTo.includes("alice@customer.example") &&
          m.body?.toString().includes(`${tag}-0000`),
      ),
  )
  expect(ndr.body?.toString()).toContain("multipart/report")
  const refusals = refusalSummary(run)
  const figures = tally(
    `${topology.redisUrl.split(":")[0]} ${tag}`,
    run,
    loadIdsIn(received(), tag),
    fault ? `refusals ${JSON.stringify(refusals)}` : undefined,
  )
  printFigures(figures)
  expect(figures.lost).toBe(0)
  for (const reply of Object.keys(refusals)) expect(reply).toMatch(/^4\d\d/)
  return figures
}

describe("on a 3-master Redis Cluster", { timeout: 240_000 }, () => {
  let cluster: RedisCluster
  let topology: TopologyStack
  beforeAll(async () => {
    cluster = await startCluster({ masters: 3 })
    topology = await topologyStack(cluster.url, { stack })
  }, 60_000)
  afterAll(() => cluster?.stop())

  it("delivers, bounces and hot-loads with every key in the prefix's slot", async () => {
    await topology.publish(policy(stack.partners, "de"), 1)
    const relay = await topology.startRelay("cluster-relay")
    relays.push(relay)
    await waitFor("relay ready on the cluster", async () => (await relay.ready())?.status === 200)
    await listening(relay)
    await roundTrip(topology, relay, "clu", 20)

    await topology.publish(policy(stack.partners, "en"), 2)
    await waitFor("serial 2 hot-loaded", async () => ((await relay.activeSerial()) === 2 ? true : undefined))

    const home = await cluster.nodeFor(`{${topology.prefix}}:x`)
    const keys = (await redisCommand(home.port, "KEYS", `{${topology.prefix}}:*`)) as ReadonlyArray<string>
    expect(keys.some((k) => k.includes(":delivery:"))).toBe(true)
    expect(keys.some((k) => k.includes(":policy:"))).toBe(true)
    for (const node of cluster.nodes.filter((n) => n !== home))
      expect(await redisCommand(node.port, "DBSIZE")).toBe(0)
    console.log(
      `CLUSTER-FIGURES ${JSON.stringify({ masters: cluster.nodes.length, keysInPrefixSlot: keys.length, home: home.port })}`,
    )
  })
})

describe("with Sentinel (master, replica, three sentinels)", { timeout: 240_000 }, () => {
  let sentinel: SentinelSetup
  let topology: TopologyStack
  beforeAll(async () => {
    sentinel = await startSentinelSetup()
    topology = await topologyStack(sentinel.url, { stack })
  }, 150_000)
  afterAll(() => sentinel?.stop())

  it("delivers, bounces and hot-loads, and carries on after a failover", async () => {
    await topology.publish(policy(stack.partners, "de"), 1)
    const relay = await topology.startRelay("sentinel-relay")
    relays.push(relay)
    await waitFor("relay ready via Sentinel", async () => (await relay.ready())?.status === 200)
    await listening(relay)
    await roundTrip(topology, relay, "sen", 20)

    const newMaster = await sentinel.failover()
    expect(newMaster).toBe(sentinel.replica.port)
    // The relay finds the new master through the sentinels without a restart.
    await topology.publish(policy(stack.partners, "en"), 2)
    await waitFor("serial 2 hot-loaded after failover", async () =>
      (await relay.activeSerial()) === 2 ? true : undefined,
    )
    await roundTrip(topology, relay, "fo", 20)

    // A failover while mail is streaming in: refusals (4xx) are fine, losing a 250 is not.
    let switched: Promise<number> = Promise.resolve(0)
    await roundTrip(topology, relay, "mid", 40, {
      before: (i) => {
        if (i === 10) switched = sentinel.failover()
      },
      refusalsAllowed: true,
    })
    expect(await switched).toBe(sentinel.master.port)
  })
})

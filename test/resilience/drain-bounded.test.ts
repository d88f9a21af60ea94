/**
 * Drain is bounded in every state of Redis: SIGTERM ends a relay within
 * `RELAY_DRAIN_DELAY + RELAY_DRAIN_TIMEOUT` (plus a margin for the process's own exit) whether
 * Redis answers, is gone (killed: connections refused), hangs (SIGSTOP: nothing answers, as behind
 * a dead link) or is failing over (Sentinel, master killed, no new master yet). A delivery in
 * flight while Redis answers finishes and is recorded; one whose result could not be written is
 * never acknowledged: after a restart with Redis back, stall recovery finishes it (at-least-once:
 * sent again when its result never reached Redis).
 *
 * The exit time is asserted against the configured budget: a bound the operator relies on (the
 * orchestrator's SIGKILL grace period), not a performance figure.
 */
import { RedisClient, shardTag } from "@mailconnect/redis-client"
import { startSentinelSetup } from "@mailconnect/test-redis"
import {
  labPartner,
  policyOf,
  type SmtpRelay,
  type Stack,
  startStack,
  submit,
  waitFor,
} from "@mailconnect/test-support"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AOF, type FaultRun, startFaultRun } from "./support/fault-run"
import { hardKill } from "./support/processes"
import { topologyStack } from "./support/topology"

const DRAIN_DELAY_MS = 500
/** Redis away: short, so the test is quick; the bound is what is asserted, not the speed. */
const DRAIN_TIMEOUT_MS = 3_000
/** Redis up: long enough for the slow partner's 3 s greeting, so the job in flight finishes. */
const DRAIN_TIMEOUT_UP_MS = 6_000
/** Leaving the event loop after the last finalizer, and a loaded 2-core CI machine. */
const MARGIN_MS = 1_500

interface Drain {
  readonly env: Record<string, string>
  /** RELAY_DRAIN_DELAY + RELAY_DRAIN_TIMEOUT. */
  readonly budgetMs: number
}

const drain = (timeoutMs: number): Drain => ({
  env: { RELAY_DRAIN_DELAY: `${DRAIN_DELAY_MS}ms`, RELAY_DRAIN_TIMEOUT: `${timeoutMs}ms` },
  budgetMs: DRAIN_DELAY_MS + timeoutMs,
})
const AWAY = drain(DRAIN_TIMEOUT_MS)
const UP = drain(DRAIN_TIMEOUT_UP_MS)

let stack: Stack
const runs: Array<FaultRun> = []
const cleanups: Array<() => Promise<void>> = []

beforeAll(async () => {
  // `slow` waits 3 s before its greeting (startStack's slowGreetingMs): a delivery that is
  // still in flight when SIGTERM arrives.
  stack = await startStack(["slow"])
}, 120_000)

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
  for (const run of runs) await run.stop().catch(() => undefined)
  await stack?.stop()
})

const policy = () => {
  const good = stack.partners.scenario("good")
  return policyOf(
    [labPartner(stack.partners, "bank", "good"), labPartner(stack.partners, "slowpoke", "slow")],
    { host: good.host, port: good.port },
  )
}

const slowDeliveries = (subject: string) =>
  stack.partners
    .scenario("slow")
    .recorder.messages()
    .filter((m) => m.body?.toString().includes(`Subject: ${subject}`)).length

const slowConnections = () => stack.partners.scenario("slow").recorder.connections.length

interface Exit {
  readonly code: number | null | "hung"
  readonly ms: number
}

/**
 * SIGTERM and the time until the process exited. Gives up (and the caller's cleanup SIGKILLs)
 * well after the bound, so a hanging drain fails the assertion with its figure instead of the
 * test's timeout.
 */
const sigterm = async (relay: SmtpRelay, budget: Drain): Promise<Exit> => {
  const started = performance.now()
  const code = await Promise.race([
    relay.stop("SIGTERM"),
    new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), budget.budgetMs + 15_000)),
  ])
  return { code, ms: Math.round(performance.now() - started) }
}

/**
 * Prints the figure, then asserts exit 0 within the bound; on failure the relay's last log lines
 * say which finalizer waited.
 */
const expectBounded = (state: string, relay: SmtpRelay, budget: Drain, exit: Exit) => {
  console.log(
    `drain (${state}): exit ${exit.code} after ${exit.ms} ms; bound ${budget.budgetMs} + ${MARGIN_MS} ms (RELAY_DRAIN_DELAY ${budget.env.RELAY_DRAIN_DELAY} + RELAY_DRAIN_TIMEOUT ${budget.env.RELAY_DRAIN_TIMEOUT})`,
  )
  const log = `--- relay output ---\n${relay.output().slice(-4_000)}`
  expect(exit.code, log).toBe(0)
  expect(exit.ms, log).toBeLessThanOrEqual(budget.budgetMs + MARGIN_MS)
}

/** A message to the slow partner, returned once the relay has connected to it (in flight). */
const startSlowDelivery = async (relay: SmtpRelay, subject: string) => {
  const before = slowConnections()
  const result = await submit(relay, stack.relayCa, ["bob@slowpoke.example"], subject)
  expect(result.ok, result.response).toBe(true)
  await waitFor(`${subject}: delivery in flight`, () => slowConnections() > before, 20_000)
}

type WithRedis = FaultRun["topology"]["withRedis"]

/** Active and completed jobs, summed over the queue's shards (`REDIS_SHARDS`, default 1). */
const jobCounts = (withRedis: WithRedis, shards = 1) =>
  withRedis(
    Effect.gen(function* () {
      const redis = yield* RedisClient
      const prefix = redis.keys.tag.slice(1, -1)
      let active = 0
      let completed = 0
      for (let shard = 0; shard < shards; shard++) {
        const key = (state: string) => `${shardTag(prefix, shard)}:delivery:${state}`
        const [a, c] = yield* redis.batch([
          ["LLEN", key("active")],
          ["ZCARD", key("completed")],
        ])
        active += Number(a)
        completed += Number(c)
      }
      return { active, completed }
    }),
  )

/**
 * With Redis back, a new relay's stall check takes over the job the drained relay left active
 * (its lock lapsed, nobody renews it) and finishes it: completed, and the message delivered.
 * `redelivered`: the drained relay's result never reached Redis, so the partner gets it again
 * (at-least-once); otherwise the re-run may find the recipient's 250 already recorded.
 */
const expectFinishedAfterRestart = async (
  state: string,
  withRedis: WithRedis,
  subject: string,
  deliveredAtExit: number,
  redelivered: boolean,
  shards = 1,
) => {
  await waitFor(
    `${state}: the job in flight completed after the restart`,
    async () => (await jobCounts(withRedis, shards)).completed === 1,
    30_000,
  )
  const after = slowDeliveries(subject)
  console.log(
    `drain (${state}): deliveries of the job in flight before the exit ${deliveredAtExit}, after the restart ${after}`,
  )
  if (redelivered) expect(after).toBeGreaterThan(deliveredAtExit)
  else expect(after).toBeGreaterThanOrEqual(1)
}

describe("drain is bounded", { timeout: 120_000 }, () => {
  it("Redis up: the delivery in flight finishes and is recorded, then the relay exits", async () => {
    const run = await startFaultRun(stack, "drainup", policy(), { env: UP.env })
    runs.push(run)
    await startSlowDelivery(run.relay(), "drain up")
    const relay = run.relay()
    const exit = await sigterm(relay, UP)
    expectBounded("Redis up, delivery in flight", relay, UP, exit)
    expect(slowDeliveries("drain up")).toBe(1)
    // Recorded as done: nothing is left active for stall recovery to send again.
    expect(await jobCounts(run.topology.withRedis)).toEqual({ active: 0, completed: 1 })
  })

  for (const variant of [
    { layout: "", name: "draindown", subject: "drain down", shards: 1 },
    {
      layout: " (queue sharded over 3 tags)",
      name: "draindownsharded",
      subject: "drain sharded killed",
      shards: 3,
    },
  ])
    it(`Redis killed: exits within the budget; the delivery in flight is run again after a restart${variant.layout}`, async () => {
      const { name, subject, shards } = variant
      const env = shards === 1 ? AWAY.env : { ...AWAY.env, REDIS_SHARDS: String(shards) }
      const run = await startFaultRun(stack, name, policy(), { env })
      runs.push(run)
      await startSlowDelivery(run.relay(), subject)
      await run.redis.stop({ signal: "SIGKILL", keepData: true })
      const relay = run.relay()
      const exit = await sigterm(relay, AWAY)
      if (exit.code === "hung") await run.kill("delivery")
      expectBounded("Redis killed, delivery in flight", relay, AWAY, exit)
      // Redis back on its AOF (fsync always): the job is still active, never completed; the
      // result of the delivery in flight never reached Redis, so it is sent again.
      const deliveredAtExit = slowDeliveries(subject)
      await run.redis.restart()
      expect(await jobCounts(run.topology.withRedis, shards)).toEqual({ active: 1, completed: 0 })
      await run.restart("delivery")
      await expectFinishedAfterRestart(
        "Redis killed",
        run.topology.withRedis,
        subject,
        deliveredAtExit,
        true,
        shards,
      )
    })

  it("Redis hanging (SIGSTOP): exits within the budget; the delivery in flight is run again after a restart", async () => {
    const run = await startFaultRun(stack, "drainhang", policy(), { env: AWAY.env })
    runs.push(run)
    await startSlowDelivery(run.relay(), "drain hang")
    run.redis.pause()
    cleanups.push(async () => run.redis.resume())
    const relay = run.relay()
    const exit = await sigterm(relay, AWAY)
    if (exit.code === "hung") await run.kill("delivery")
    expectBounded("Redis hanging, delivery in flight", relay, AWAY, exit)
    // What the relay wrote before its connections were cut sits in the paused server's socket
    // buffer and is applied on SIGCONT — possibly the recipient's 250, never the completion,
    // which waits for that write's reply.
    const deliveredAtExit = slowDeliveries("drain hang")
    run.redis.resume()
    expect(await jobCounts(run.topology.withRedis)).toEqual({ active: 1, completed: 0 })
    await run.restart("delivery")
    await expectFinishedAfterRestart(
      "Redis hanging",
      run.topology.withRedis,
      "drain hang",
      deliveredAtExit,
      false,
    )
  })

  it("Sentinel failing over (master killed, no new master yet): exits within the budget; the job in flight is run again on the new master", async () => {
    const sentinel = await startSentinelSetup({ args: AOF })
    cleanups.push(() => sentinel.stop())
    const topology = await topologyStack(sentinel.url, { stack, prefix: "fdrainsentinel" })
    await topology.publish(policy(), 1)
    const start = async (id: string) => {
      const relay = await topology.startRelay(id, {
        ...AWAY.env,
        RELAY_JOB_LOCK_DURATION: "2s",
        RELAY_POLICY_POLL_INTERVAL: "500ms",
      })
      cleanups.push(() => hardKill(relay, topology.prefix))
      await waitFor(`${id} ready`, async () => (await relay.ready())?.status === 200)
      return relay
    }
    const relay = await start("drainsentinel-1")
    await startSlowDelivery(relay, "drain failover")
    const oldMaster = await sentinel.currentMasterPort()
    await sentinel.master.stop({ signal: "SIGKILL", keepData: true })
    const exit = await sigterm(relay, AWAY)
    expectBounded("Sentinel failing over, delivery in flight", relay, AWAY, exit)
    const deliveredAtExit = slowDeliveries("drain failover")
    await waitFor(
      "the sentinels to promote the replica",
      async () => (await sentinel.currentMasterPort().catch(() => oldMaster)) !== oldMaster,
      30_000,
    )
    await start("drainsentinel-2")
    await expectFinishedAfterRestart(
      "Sentinel failed over",
      topology.withRedis,
      "drain failover",
      deliveredAtExit,
      true,
    )
  })
})

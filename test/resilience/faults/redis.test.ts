/**
 * Redis faults under a steady stream of submissions, with the relay left alone throughout:
 * - Redis SIGKILLed mid-stream and started again on its AOF (appendfsync always);
 * - Redis unreachable for 10 s (SIGSTOP: connections hang, nothing answers, as behind a dead link).
 * While Redis is away the relay must answer 4xx (451 4.3.0), never 250; afterwards it must accept
 * again by itself, and every message it accepted must be delivered exactly once. The restart runs
 * on the sharded layout too (`REDIS_SHARDS=4`).
 */
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { labPartner, policyOf, type Stack, startStack, waitFor } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AOF, type FaultRun, startFaultRun } from "../support/fault-run"
import {
  type LoadRun,
  loadIdsIn,
  printFigures,
  refusalSummary,
  sendSteadily,
  slowestMs,
  tally,
} from "../support/load"

const COUNT = 60
const FAULT_AT = 15
let stack: Stack
const runs: Array<FaultRun> = []
const extraRedis: Array<RedisServer> = []

beforeAll(async () => {
  stack = await startStack(["good"])
}, 120_000)

afterAll(async () => {
  for (const run of runs) await run.stop()
  for (const redis of extraRedis) await redis.stop()
  await stack?.stop()
})

const good = () => stack.partners.scenario("good")
const policy = () =>
  policyOf([labPartner(stack.partners, "bank", "good")], { host: good().host, port: good().port })

const check = async (scenario: string, tag: string, fault: FaultRun, run: LoadRun, notes: string) => {
  await waitFor(
    `${scenario}: every accepted message delivered`,
    () => {
      const delivered = new Set(loadIdsIn(good().recorder.messages(), tag))
      return run.accepted.every((id) => delivered.has(id)) ? true : undefined
    },
    120_000,
  )
  const refusals = refusalSummary(run)
  const figures = tally(
    scenario,
    run,
    loadIdsIn(good().recorder.messages(), tag),
    `${notes}; refusals ${JSON.stringify(refusals)}; slowest session ${slowestMs(run)} ms; sessions held > 1 s waiting for Redis: ${run.results.filter((r) => r.ms > 1_000).length}`,
  )
  printFigures(figures)
  expect(figures.lost).toBe(0)
  expect(figures.duplicated).toBe(0)
  // Refused, never bounced: a sender retries a 4xx.
  for (const reply of Object.keys(refusals)) expect(reply).toMatch(/^4\d\d/)
  // The relay process was never restarted and accepts again on its own.
  expect(fault.relay().id).toBe(`${fault.name}-1`)
  expect((await fault.relay().ready())?.status).toBe(200)
  expect(run.results.slice(-10).every((r) => r.accepted)).toBe(true)
  return figures
}

/** The queue on one hash tag (the default), and sharded over four (`REDIS_SHARDS`). */
const LAYOUTS = [
  { name: "", tag: "rr", env: {} },
  { name: ", queue sharded over 4 tags", tag: "rrs", env: { REDIS_SHARDS: "4" } },
] as const

describe("Redis faults", { timeout: 300_000 }, () => {
  for (const layout of LAYOUTS)
    it(`Redis SIGKILLed mid-stream and restarted on its AOF${layout.name}`, async () => {
      const fault = await startFaultRun(stack, `redisrestart${layout.name ? "sharded" : ""}`, policy(), {
        env: layout.env,
      })
      runs.push(fault)
      let outage: Promise<void> = Promise.resolve()
      const run = await sendSteadily({
        relay: fault.relay,
        relayCa: stack.relayCa,
        tag: layout.tag,
        count: COUNT,
        intervalMs: 50,
        to: () => ["bob@bank.example"],
        before: (i) => {
          if (i !== FAULT_AT) return
          // In the background: the stream goes on while Redis is dead and while it replays.
          outage = (async () => {
            await fault.redis.stop({ signal: "SIGKILL", keepData: true })
            await new Promise((r) => setTimeout(r, 2_000))
            extraRedis.push(await startRedis({ dir: fault.redis.dir, port: fault.redis.port, args: AOF }))
          })()
        },
      })
      await outage
      const figures = await check(
        `Redis SIGKILL + AOF restart${layout.name}`,
        layout.tag,
        fault,
        run,
        "down 2 s",
      )
      expect(figures.refused).toBeGreaterThan(0)
    })

  it("Redis unreachable for 10 s", async () => {
    const fault = await startFaultRun(stack, "redispause", policy())
    runs.push(fault)
    let outage: Promise<void> = Promise.resolve()
    const run = await sendSteadily({
      relay: fault.relay,
      relayCa: stack.relayCa,
      tag: "rp",
      count: COUNT,
      intervalMs: 50,
      to: () => ["bob@bank.example"],
      before: (i) => {
        if (i !== FAULT_AT) return
        fault.redis.pause()
        outage = new Promise((resolve) =>
          setTimeout(() => {
            fault.redis.resume()
            resolve()
          }, 10_000),
        )
      },
    })
    await outage
    const figures = await check("Redis unreachable 10 s", "rp", fault, run, "SIGSTOP for 10 s")
    expect(figures.refused).toBeGreaterThan(0)
  })
})

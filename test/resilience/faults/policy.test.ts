/**
 * Policy distribution faults under a steady stream of submissions:
 * - corrupt bundles written straight into Redis (garbage bytes; a signed bundle with one byte
 *   changed), each behind a `current` pointer with a higher serial and a change notice;
 * - the disk holding the last-known-good copy full from the start.
 * The relay must keep the bundle it runs, stay ready, keep accepting and delivering, count what
 * went wrong, and take the next good bundle by itself.
 */
import { createHash } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { PolicyStore } from "@mailconnect/policy-store"
import { RedisClient } from "@mailconnect/redis-client"
import {
  labPartner,
  policyOf,
  type Stack,
  signedPolicy,
  startStack,
  waitFor,
} from "@mailconnect/test-support"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FaultRun, startFaultRun } from "../support/fault-run"
import { type LoadRun, loadIdsIn, printFigures, sendSteadily, tally } from "../support/load"
import { type FullDisk, fullDisk } from "../support/small-disk"

const COUNT = 50
let stack: Stack
const runs: Array<FaultRun> = []
const disks: Array<FullDisk> = []

beforeAll(async () => {
  stack = await startStack(["good"])
}, 120_000)

afterAll(async () => {
  for (const run of runs) await run.stop()
  for (const disk of disks) disk.remove()
  await stack?.stop()
})

const good = () => stack.partners.scenario("good")
const policy = () =>
  policyOf([labPartner(stack.partners, "bank", "good")], { host: good().host, port: good().port })

const metric = async (fault: FaultRun, name: string) => {
  let sum = 0
  for (const [key, value] of await fault.relay().metrics())
    if (key === name || key.startsWith(`${name}{`)) sum += value
  return sum
}

const settle = async (scenario: string, tag: string, run: LoadRun, notes: string) => {
  await waitFor(`${scenario}: every accepted message delivered`, () => {
    const delivered = new Set(loadIdsIn(good().recorder.messages(), tag))
    return run.accepted.every((id) => delivered.has(id)) ? true : undefined
  })
  const figures = tally(scenario, run, loadIdsIn(good().recorder.messages(), tag), notes)
  printFigures(figures)
  expect(figures.lost).toBe(0)
  expect(figures.duplicated).toBe(0)
  // Policy trouble never stops the mail.
  expect(figures.accepted).toBe(COUNT)
}

/** Writes `bytes` as the bundle for `serial` behind the pointer, bypassing every check. */
const writeRaw = (fault: FaultRun, serial: number, bytes: string) =>
  fault.topology.withRedis(
    Effect.gen(function* () {
      const redis = yield* RedisClient
      const store = yield* PolicyStore
      const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`
      yield* redis.call("SET", store.keys.bundle(digest), bytes)
      yield* redis.call(
        "HSET",
        store.keys.current,
        "serial",
        String(serial),
        "digest",
        digest,
        "schema",
        "1",
        "publishedAt",
        new Date().toISOString(),
      )
      yield* redis.call("PUBLISH", store.keys.channel, JSON.stringify({ serial, digest }))
    }).pipe(Effect.provide(PolicyStore.layer)),
  )

describe("policy distribution faults", { timeout: 300_000 }, () => {
  it("corrupt bundles written straight into Redis are refused; the running bundle stays", async () => {
    const fault = await startFaultRun(stack, "corrupt", policy())
    runs.push(fault)
    const stillOne = async () => {
      expect(await fault.relay().activeSerial()).toBe(1)
      expect((await fault.relay().ready())?.status).toBe(200)
    }
    const run = await sendSteadily({
      relay: fault.relay,
      relayCa: stack.relayCa,
      tag: "cb",
      count: COUNT,
      intervalMs: 20,
      to: () => ["bob@bank.example"],
      before: async (i) => {
        if (i === 10) {
          await writeRaw(fault, 2, '{"not":"a bundle"')
          await waitFor("garbage refused", async () =>
            (await metric(fault, "mc_policy_rejects_total")) >= 1 ? true : undefined,
          )
          await stillOne()
        }
        if (i === 20) {
          // A real signed bundle with one payload byte changed and its digest recomputed: only
          // the signature gives it away.
          const envelope = JSON.parse(signedPolicy(stack.lab.signer, policy(), 3)) as {
            payload: string
            digest: string
          }
          const payload = envelope.payload.replace("customer.example", "Customer.example")
          expect(payload).not.toBe(envelope.payload)
          const digest = `sha256:${createHash("sha256").update(payload).digest("hex")}`
          await writeRaw(fault, 3, JSON.stringify({ ...envelope, digest, payload }))
          await waitFor("tampered bundle refused", async () =>
            (await metric(fault, "mc_policy_rejects_total")) >= 2 ? true : undefined,
          )
          await stillOne()
        }
        if (i === 35) {
          await fault.topology.publish(policy(), 4)
          await waitFor("the next good bundle hot-loaded", async () =>
            (await fault.relay().activeSerial()) === 4 ? true : undefined,
          )
        }
      },
    })
    const rejects = await metric(fault, "mc_policy_rejects_total")
    await settle("corrupt bundle in Redis", "cb", run, `refusals counted: ${rejects}; recovered to serial 4`)
  })

  it("a full disk for the last-known-good copy: counted, never fatal, written again once space returns", async () => {
    const disk = fullDisk()
    disks.push(disk)
    const fault = await startFaultRun(stack, "diskfull", policy(), { env: { RELAY_STATE_DIR: disk.dir } })
    runs.push(fault)
    const lkg = join(disk.dir, "policy-bundle.json")
    const failures = () => metric(fault, "mc_policy_last_known_good_write_failures_total")
    expect(await failures()).toBeGreaterThanOrEqual(1)
    expect(existsSync(lkg)).toBe(false)
    const run = await sendSteadily({
      relay: fault.relay,
      relayCa: stack.relayCa,
      tag: "df",
      count: COUNT,
      intervalMs: 20,
      to: () => ["bob@bank.example"],
      before: async (i) => {
        if (i === 15) {
          await fault.topology.publish(policy(), 2)
          await waitFor("serial 2 active on a full disk", async () =>
            (await fault.relay().activeSerial()) === 2 ? true : undefined,
          )
          // The copy is written after activation; its failure follows shortly.
          await waitFor("second write failure counted", async () =>
            (await failures()) >= 2 ? true : undefined,
          )
          expect(existsSync(lkg)).toBe(false)
        }
        if (i === 30) {
          disk.free()
          await fault.topology.publish(policy(), 3)
          await waitFor("serial 3 active and on disk", async () =>
            (await fault.relay().activeSerial()) === 3 && existsSync(lkg) ? true : undefined,
          )
        }
      },
    })
    const copy = JSON.parse(readFileSync(lkg, "utf8")) as { payload: string }
    expect((JSON.parse(copy.payload) as { serial: number }).serial).toBe(3)
    await settle(
      "disk full for last-known-good",
      "df",
      run,
      `${disk.kind}; write failures counted: ${await failures()}; copy written after space returned`,
    )
  })
})

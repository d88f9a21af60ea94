/**
 * A rolling deploy under load: two relays take a steady stream of 500 messages; one is sent
 * SIGTERM mid-stream (it drains: not ready, listeners closed, jobs finished, exit 0) and a new
 * one is started. A load balancer stand-in routes by /readyz; the client retries a message on
 * another relay after a 4xx or a refused connection, as any MTA does. Every message must be
 * delivered, and the client must never see a 5xx.
 */

import type { SmtpRelay, Stack } from "@mailconnect/test-support"
import { labPartner, policyOf, startStack, submit, waitFor } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const MESSAGES = 500

let stack: Stack
const relays: Array<SmtpRelay> = []

beforeAll(async () => {
  stack = await startStack(["good"])
  const good = stack.partners.scenario("good")
  await stack.publish(
    policyOf([labPartner(stack.partners, "bank", "good")], { host: good.host, port: good.port }),
    1,
  )
  const env = { RELAY_DRAIN_DELAY: "1s", RELAY_DRAIN_TIMEOUT: "10s" }
  relays.push(await stack.startRelay("relay-a", env), await stack.startRelay("relay-b", env))
  for (const relay of relays)
    await waitFor(`${relay.id} ready`, async () => (await relay.ready())?.status === 200)
}, 180_000)

afterAll(async () => {
  await Promise.all(relays.map((r) => r.stop("SIGKILL")))
  await stack?.stop()
})

describe("rolling deploy", () => {
  it("loses no message and shows the client no 5xx while a relay is replaced", async () => {
    // The load balancer: only relays whose /readyz says ready receive new connections.
    let inRotation: Array<SmtpRelay> = [...relays]
    let balancing = true
    const balancer = (async () => {
      while (balancing) {
        const states = await Promise.all(
          relays.map(async (r) => ((await r.ready())?.status === 200 ? r : undefined)),
        )
        inRotation = states.filter((r): r is SmtpRelay => r !== undefined)
        await new Promise((r) => setTimeout(r, 200))
      }
    })()

    const fivexx: Array<string> = []
    let retries = 0
    let turn = 0
    const sendOne = async (i: number) => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const candidates = inRotation.length > 0 ? inRotation : relays
        const relay = candidates[turn++ % candidates.length]!
        const result = await submit(relay, stack.relayCa, [`user${i}@bank.example`], `rolling ${i}`)
        if (result.ok) return
        if (result.code !== undefined && result.code >= 500) {
          fivexx.push(`${relay.id}: ${result.response}`)
          return
        }
        retries++
        await new Promise((r) => setTimeout(r, 100))
      }
      throw new Error(`message ${i} was never accepted`)
    }

    let replaced: Promise<void> | undefined
    let exitCode: number | null | undefined
    for (let i = 0; i < MESSAGES; i += 5) {
      await Promise.all([0, 1, 2, 3, 4].map((k) => sendOne(i + k)))
      if (i === 150) {
        const old = relays[0]!
        replaced = (async () => {
          exitCode = await old.stop("SIGTERM")
        })()
        const fresh = await stack.startRelay("relay-c", { RELAY_DRAIN_DELAY: "1s" })
        relays.push(fresh)
      }
    }
    await replaced
    balancing = false
    await balancer

    const good = stack.partners.scenario("good")
    const subjects = () =>
      new Set(good.recorder.messages().map((m) => /Subject: (rolling \d+)/.exec(m.body!.toString())?.[1]))
    await waitFor("every message delivered", () => (subjects().size >= MESSAGES ? true : undefined), 180_000)
    const delivered = good.recorder.messages().length
    console.log(
      `rolling deploy: sent ${MESSAGES}, delivered ${subjects().size} distinct (${delivered - subjects().size} duplicates), client retries after 4xx/refused ${retries}, 5xx ${fivexx.length}, drained relay exit ${exitCode}`,
    )
    expect(fivexx).toEqual([])
    expect(exitCode).toBe(0)
    for (let i = 0; i < MESSAGES; i++) expect(subjects().has(`rolling ${i}`)).toBe(true)
  }, 600_000)
})

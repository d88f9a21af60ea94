/**
 * Faults in the relay process and at the partner, each under a steady stream of submissions:
 * - the ingress process SIGKILLed while a session is in the middle of DATA;
 * - the relay SIGKILLed while it is delivering (a partner transaction open);
 * - a partner that takes the whole message after DATA, then drops the connection before its
 *   final reply.
 * Every accepted (250) message must reach the partner; the crashed process is replaced as a
 * supervisor would and nothing else is touched. Duplicates are counted and reported: only a kill
 * mid-delivery and a dropped final reply can cause them (at-least-once).
 */
import type { Partner } from "@mailconnect/policy"
import { labPartner, policyOf, rawSmtp, type Stack, startStack, waitFor } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DroppingPartner, startDroppingPartner } from "../support/dropping-partner"
import { type FaultRun, startFaultRun } from "../support/fault-run"
import { type Figures, loadIdsIn, printFigures, type Received, sendSteadily, tally } from "../support/load"

const COUNT = 60
let stack: Stack
let dropper: DroppingPartner
const runs: Array<FaultRun> = []

beforeAll(async () => {
  stack = await startStack(["good"])
  // First attempt of every fifth message: the partner keeps it, we never hear its 250.
  dropper = await startDroppingPartner(
    stack.partners.pki.issuer,
    (body, seenBefore) => !seenBefore && Number(/X-MC-Load-Id: \w+-(\d{4})/.exec(body)?.[1]) % 5 === 0,
  )
}, 120_000)

afterAll(async () => {
  for (const run of runs) await run.stop()
  await dropper?.stop()
  await stack?.stop()
})

const good = () => stack.partners.scenario("good")

const basePolicy = (extra: ReadonlyArray<Partner> = []) =>
  policyOf([labPartner(stack.partners, "bank", "good"), ...extra], {
    host: good().host,
    port: good().port,
  })

const settle = async (
  scenario: string,
  tag: string,
  run: Awaited<ReturnType<typeof sendSteadily>>,
  received: () => ReadonlyArray<Received>,
  notes?: string,
): Promise<Figures> => {
  await waitFor(
    `${scenario}: every accepted message delivered`,
    () => {
      const delivered = new Set(loadIdsIn(received(), tag))
      return run.accepted.every((id) => delivered.has(id)) ? true : undefined
    },
    120_000,
  )
  const figures = tally(scenario, run, loadIdsIn(received(), tag), notes)
  printFigures(figures)
  expect(figures.lost).toBe(0)
  return figures
}

describe("relay and partner faults", { timeout: 300_000 }, () => {
  it("SIGKILL of the ingress process during DATA: no 250 for the cut message, nothing accepted lost", async () => {
    const fault = await startFaultRun(stack, "killdata", basePolicy(), { split: true })
    runs.push(fault)
    let cutReply = ""
    const run = await sendSteadily({
      relay: fault.relay,
      relayCa: stack.relayCa,
      tag: "kd",
      count: COUNT,
      intervalMs: 20,
      to: () => ["bob@bank.example"],
      before: async (i) => {
        if (i !== COUNT / 2) return
        // A partner's MX session, stopped halfway through the message body.
        const smtp = await rawSmtp(fault.relay().mxPort)
        await smtp.reply()
        await smtp.command("EHLO mx.shop.example")
        await smtp.command("MAIL FROM:<news@shop.example>")
        await smtp.command("RCPT TO:<bob@customer.example>")
        expect(await smtp.command("DATA")).toMatch(/^354 /)
        smtp.send("Subject: cut\r\nX-MC-Load-Id: kd-9999\r\n\r\nfirst half\r\n")
        await new Promise((r) => setTimeout(r, 200))
        await fault.kill("ingress")
        smtp.send("second half\r\n.\r\n")
        cutReply = await smtp.reply(5_000)
        smtp.destroy()
        await fault.restart("ingress")
      },
    })
    expect(cutReply).toBe("closed")
    const figures = await settle("relay SIGKILL during DATA", "kd", run, () => good().recorder.messages())
    expect(loadIdsIn(good().recorder.messages(), "kd")).not.toContain("kd-9999")
    // Ingress and delivery run apart here: a crashed ingress cannot duplicate a delivery.
    expect(figures.duplicated).toBe(0)
    // Recovered: everything after the restart was accepted.
    expect(run.results.slice(COUNT / 2 + 1).every((r) => r.accepted)).toBe(true)
  })

  for (const variant of [
    { layout: "", name: "killdeliver", tag: "kv", env: {} },
    {
      layout: " (queue sharded over 4 tags)",
      name: "killdeliversharded",
      tag: "kvs",
      env: { REDIS_SHARDS: "4" },
    },
  ])
    it(`SIGKILL of the relay during delivery: the jobs are taken over, nothing accepted lost${variant.layout}`, async () => {
      const { layout, name, tag, env } = variant
      const fault = await startFaultRun(stack, name, basePolicy(), { env })
      runs.push(fault)
      let midTransaction = false
      const run = await sendSteadily({
        relay: fault.relay,
        relayCa: stack.relayCa,
        tag,
        count: COUNT,
        intervalMs: 0,
        to: () => ["bob@bank.example"],
        before: async (i) => {
          if (i !== COUNT / 2) return
          // Kill while a partner transaction is open (MAIL FROM seen, message not complete).
          const open = () =>
            good().recorder.connections.some(
              (c) => !c.closed && c.transactions.some((t) => t.body === undefined),
            )
          const deadline = Date.now() + 10_000
          while (!open() && Date.now() < deadline) await new Promise((r) => setImmediate(r))
          midTransaction = open()
          await fault.kill("delivery")
          await fault.restart("delivery")
        },
      })
      const figures = await settle(
        `relay SIGKILL during delivery${layout}`,
        tag,
        run,
        () => good().recorder.messages(),
        `killed with a partner transaction open: ${midTransaction}`,
      )
      expect(figures.accepted).toBeGreaterThan(COUNT / 2)
      expect(run.results.slice(COUNT / 2 + 1).every((r) => r.accepted)).toBe(true)
    })

  it("a partner that drops the connection after DATA: retried, duplicates only from the drops", async () => {
    const dropping: Partner = {
      ...labPartner(stack.partners, "dropper", "good"),
      servers: [{ host: dropper.host, port: dropper.port }],
      // Short timeline so the retry comes within the test.
      retry: { schedule: [1_000, 2_000], every: 5_000, warnAfter: 14_400_000, expireAfter: 864_000_000 },
    }
    const withDropper = {
      ...dropping,
      tls: { ...dropping.tls, verify: { ...dropping.tls.verify, names: [dropper.name] } },
    }
    const fault = await startFaultRun(stack, "dropdata", basePolicy([withDropper]))
    runs.push(fault)
    const run = await sendSteadily({
      relay: fault.relay,
      relayCa: stack.relayCa,
      tag: "dd",
      count: COUNT,
      intervalMs: 20,
      to: () => ["bob@dropper.example"],
    })
    expect(run.accepted.length).toBe(COUNT)
    // A dropped message's first copy counts as delivered; wait for the retries as well.
    await waitFor(
      "every dropped message retried",
      () => (loadIdsIn(dropper.received, "dd").length === COUNT + dropper.drops() ? true : undefined),
      60_000,
    )
    const figures = await settle(
      "partner drops after DATA",
      "dd",
      run,
      () => dropper.received,
      `final replies dropped: ${dropper.drops()}`,
    )
    // Each dropped reply is one message the partner holds twice; no other duplicate.
    expect(figures.duplicated).toBe(dropper.drops())
    expect(dropper.drops()).toBe(COUNT / 5)
  })
})

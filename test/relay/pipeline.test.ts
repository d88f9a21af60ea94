/**
 * The relay as operators run it: a message submitted over STARTTLS + AUTH is queued, delivered
 * over verified TLS to an enforcing partner; a published policy fix (a new pin) promotes waiting
 * mail at once; a delivery process killed with SIGKILL mid-delivery loses nothing.
 */

import type { SmtpRelay, Stack } from "@mailconnect/test-support"
import { labPartner, policyOf, startStack, submit, waitFor } from "@mailconnect/test-support"
import { simpleParser } from "mailparser"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let stack: Stack
let relay: SmtpRelay

beforeAll(async () => {
  stack = await startStack(["good", "rotated-key", "slow"])
  const good = stack.partners.scenario("good")
  const rotated = stack.partners.scenario("rotated-key")
  await stack.publish(
    policyOf(
      [
        labPartner(stack.partners, "bank", "good"),
        // Pinned to the key the partner used before its unannounced rotation.
        labPartner(stack.partners, "rotated", "rotated-key", { pins: [rotated.previousCertificate!.pin] }),
        labPartner(stack.partners, "slowpoke", "slow"),
      ],
      { host: good.host, port: good.port },
    ),
    1,
  )
  relay = await stack.startRelay("relay-1", { RELAY_JOB_LOCK_DURATION: "2s" })
  await waitFor("relay ready", async () => (await relay.ready())?.status === 200)
}, 120_000)

afterAll(async () => {
  await relay?.stop("SIGKILL")
  await stack?.stop()
})

const delivered = (scenario: "good" | "rotated-key" | "slow", subject: string) =>
  stack.partners
    .scenario(scenario)
    .recorder.messages()
    .find((m) => m.body?.toString().includes(`Subject: ${subject}`))

describe("relay pipeline", () => {
  it("accepts over STARTTLS + AUTH and delivers over verified TLS to an enforcing partner", async () => {
    const result = await submit(relay, stack.relayCa, ["bob@bank.example"], "hello bank")
    expect(result.response).toMatch(/^250 2\.0\.0 Ok: queued as /)
    const message = await waitFor("delivery to bank", () => delivered("good", "hello bank"))
    expect(message.mailFrom).toBe("alice@customer.example")
    expect(message.rcptTo).toEqual(["bob@bank.example"])
    const connection = stack.partners
      .scenario("good")
      .recorder.connections.find((c) => c.transactions.includes(message))!
    expect(connection.secure).toBe(true)
    expect(connection.tls?.protocol).toMatch(/^TLSv1\.[23]$/)
    const parsed = await simpleParser(message.body!)
    expect(String(parsed.headers.get("received"))).toContain(`id ${result.queueId}`)
    const metrics = await relay.metrics()
    expect(metrics.get('mc_smtp_accepted_total{listener="submission"}')).toBe(1)
    expect(metrics.get('mc_smtp_tls_total{listener="submission",protocol="TLSv1.3"}')).toBe(1)
    await waitFor("delivery metric", async () =>
      (await relay.metrics()).get('mc_deliveries_total{code="ok",partner="bank",result="delivered"}') === 1
        ? true
        : undefined,
    )
    expect(metrics.get("mc_policy_active_serial")).toBe(1)
    // The heartbeat carries the delivery queue's figures for `fleet status`.
    const beat = await waitFor("queue figures in the heartbeat", async () =>
      (await stack.lab.heartbeats()).find((h) => h.relayId === "relay-1" && h.queues?.delivery),
    )
    expect(beat.queues!.delivery).toMatchObject({ waiting: expect.any(Number), delayed: expect.any(Number) })
  })

  it("promotes waiting mail when a policy fix for the partner is published", async () => {
    const rotated = stack.partners.scenario("rotated-key")
    const result = await submit(relay, stack.relayCa, ["carol@rotated.example"], "after rotation")
    expect(result.ok).toBe(true)
    await waitFor("pin mismatch deferral", async () =>
      ((await relay.metrics()).get(
        'mc_deliveries_total{code="CERT_PIN_MISMATCH",partner="rotated",result="deferred"}',
      ) ?? 0) >= 1
        ? true
        : undefined,
    )
    expect(rotated.recorder.mailFroms()).toEqual([])
    const good = stack.partners.scenario("good")
    // The operator confirms the new key with the partner and publishes both pins.
    await stack.publish(
      policyOf(
        [
          labPartner(stack.partners, "bank", "good"),
          labPartner(stack.partners, "rotated", "rotated-key", {
            pins: [rotated.previousCertificate!.pin, rotated.certificate.pin],
          }),
          labPartner(stack.partners, "slowpoke", "slow"),
        ],
        { host: good.host, port: good.port },
      ),
      2,
    )
    // The next timeline point is 5 minutes away; the flush delivers within seconds.
    const message = await waitFor(
      "delivery after the fix",
      () => delivered("rotated-key", "after rotation"),
      60_000,
    )
    expect(message.rcptTo).toEqual(["carol@rotated.example"])
  })

  it("delivers a message whose delivery process was killed mid-delivery (at-least-once)", async () => {
    const slow = stack.partners.scenario("slow")
    const before = slow.recorder.connections.length
    const result = await submit(relay, stack.relayCa, ["dave@slowpoke.example"], "survives a crash")
    expect(result.ok).toBe(true)
    // The worker has connected and waits for the slow greeting: kill it now.
    await waitFor("connection to the slow partner", () =>
      slow.recorder.connections.length > before ? true : undefined,
    )
    expect(await relay.stop("SIGKILL")).toBe(null)
    expect(delivered("slow", "survives a crash")).toBeUndefined()
    relay = await stack.startRelay("relay-2", { RELAY_ROLES: "delivery", RELAY_JOB_LOCK_DURATION: "2s" })
    const message = await waitFor(
      "delivery by the second process",
      () => delivered("slow", "survives a crash"),
      90_000,
    )
    expect(message.rcptTo).toEqual(["dave@slowpoke.example"])
  })
})
